import { demoRuntime } from '@atmosphere/ai';
import { llmRoomMember, type RoomAnswer } from '@atmosphere/ai/rooms';
import { TIMING_PREFIX } from '@atmosphere/protocol';
import { redisBackplane, redisClusterState } from '@atmosphere/redis';
import { createRooms } from '@atmosphere/rooms';
import {
  connectTestClient,
  Inbox,
  startTestAtmosphere,
  startTestRedis,
  TestScope,
} from '@atmosphere/runtime/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { metrics } from '../src/index.ts';
import { histogramSample, sampleValue } from '../src/testing/index.ts';

type Frame = Record<string, unknown>;

const ANSWER = 'timed on the node that ran it';
const LABELS = { gen_ai_provider_name: 'demo', gen_ai_request_model: 'default' };

describe('paint timing of a room answer in a cluster', () => {
  const scope = new TestScope();
  afterEach(() => scope.close());

  test("a report sent to the node that did not run the answer is joined to the run on the node that did; one about no node's answer is refused once, where it arrived", async () => {
    const redis = await startTestRedis();
    scope.track({ close: () => redis.stop() });
    const answers = new Inbox<{ node: number; answer: RoomAnswer }>();
    const node = async (index: number) => {
      const registry = new Registry();
      const atmosphere = scope.track(
        await startTestAtmosphere({
          providers: [
            redisBackplane({ url: redis.url, channelPrefix: 'paint-cluster-bus:' }),
            redisClusterState({ url: redis.url, keyPrefix: 'paint-cluster-state:' }),
            metrics({ registry }),
          ],
        }),
      );
      const rooms = scope.track(createRooms(atmosphere, { path: '/rooms' }));
      const ai = llmRoomMember({
        id: 'assistant',
        answers: 'all',
        runtime: demoRuntime({ delayMs: 0, answer: () => ANSWER }),
        onAnswer: (answer) => answers.push({ node: index, answer }),
      });
      scope.track({ close: () => ai.close() });
      rooms.room('lobby').joinVirtual(ai);
      return { url: atmosphere.url('/rooms'), registry };
    };
    const nodes = [await node(0), await node(1)];
    const member = async (url: string, memberId: string) => {
      const client = scope.track(await connectTestClient(url, 'websocket'));
      const frames = (): Frame[] => client.messages.items.map((text) => JSON.parse(text) as Frame);
      await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId }));
      await client.messages.waitFor((text) => (JSON.parse(text) as Frame)['type'] === 'join_ack');
      return {
        frames,
        send: (frame: object) => client.send(JSON.stringify(frame)),
        waitFor: (predicate: (frame: Frame) => boolean) =>
          client.messages.waitFor((text) => predicate(JSON.parse(text) as Frame), 15_000),
      };
    };
    const members = [await member(nodes[0]!.url, 'ann'), await member(nodes[1]!.url, 'bob')];
    // Both nodes seat the assistant (each node's cluster view holds the other's copy by now: their holds
    // went out when the nodes started, before these joins).
    await members[0]!.send({ type: 'broadcast', room: 'lobby', data: 'what is new?' });
    const { node: ran, answer } = await answers.next(15_000);
    expect(answer.status).toBe('complete');
    const other = 1 - ran;
    const reporter = members[other]!;
    // The reporter is on the node that did not run the answer: the frames reached it through the backplane.
    await reporter.waitFor((frame) => frame['type'] === 'message' && frame['from'] === 'assistant');
    const seqs = reporter
      .frames()
      .filter((frame) => frame['type'] === 'streaming-text' && frame['sessionId'] === answer.sessionId)
      .map((frame) => frame['seq'] as number);
    expect(seqs.length).toBeGreaterThan(0);

    const accepted = (registry: Registry) =>
      sampleValue(registry, 'atmosphere_ai_paint_reports_total', { outcome: 'accepted' });
    const refused = (registry: Registry) =>
      sampleValue(registry, 'atmosphere_ai_paint_reports_total', { outcome: 'refused' });

    await reporter.send({
      type: 'timing',
      room: 'lobby',
      memberId: 'assistant',
      report: `${TIMING_PREFIX}${answer.sessionId} [[${seqs[0]},5,1]]`,
    });
    await vi.waitFor(async () => expect(await accepted(nodes[ran]!.registry)).toBe(1), { timeout: 15_000 });
    expect(
      (await histogramSample(nodes[ran]!.registry, 'atmosphere_ai_token_to_paint_seconds', LABELS))?.count,
    ).toBe(1);
    expect(await refused(nodes[ran]!.registry)).toBeFalsy();

    // About an answer no node gave: the node it arrived at asks the other, then refuses it itself, once.
    await reporter.send({
      type: 'timing',
      room: 'lobby',
      memberId: 'assistant',
      report: `${TIMING_PREFIX}no-such-answer [[1,5,1]]`,
    });
    await vi.waitFor(async () => expect(await refused(nodes[other]!.registry)).toBe(1), { timeout: 15_000 });
    expect(await refused(nodes[ran]!.registry)).toBeFalsy();
    expect(await accepted(nodes[other]!.registry)).toBeFalsy();
    expect(await accepted(nodes[ran]!.registry)).toBe(1);
  });
});
