import type { AiEventFrame, AiFrame } from '@atmosphere/protocol';
import { eventually, type TestTransport } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { AiRole } from '../src/index.ts';
import { type AiTestClient, answerOf, connectAiClient } from '../src/testing/index.ts';
import { tool } from '../src/tools/tool.ts';
import { sseStep } from './fixtures.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const steerAcks = (frames: readonly AiFrame[]) =>
  frames.filter((f): f is AiEventFrame<'steer'> => f.type === 'event' && f.event === 'steer');

/** The auth hook's principal is `{ name, role }` from a `name:role` token; the role hook reads it. */
async function start(approvalsBy?: 'approvers') {
  const calls: string[] = [];
  h = await harness({
    atmosphere: {
      auth: {
        verify: (token) => {
          const [name, role] = token.split(':');
          return name && role ? { name, role } : undefined;
        },
      },
    },
    steps: [sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse', { pauseAfter: 2 })],
    tools: [
      tool({
        name: 'get_weather',
        description: 'Current weather of a city',
        parameters: z.object({ city: z.string() }),
        requiresApproval: true,
        execute: ({ city }) => {
          calls.push(city);
          return { city, celsius: 21 };
        },
      }),
    ],
    role: ({ principal }) => (principal as { role: AiRole }).role,
    ...(approvalsBy ? { approvalsBy } : {}),
  });
  return calls;
}

function connect(token: string, transport: TestTransport, runId?: string): Promise<AiTestClient> {
  return connectAiClient(h!.url(), transport, {
    query: { 'X-Atmosphere-Auth': token, ...(runId ? { 'X-Atmosphere-Run-Id': runId } : {}) },
  });
}

async function refused(client: AiTestClient): Promise<void> {
  expect((await client.answer()).end).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
}

describe('roles per run: each connection may do what its role allows, and is told its role', () => {
  test.each(['websocket', 'long-polling', 'sse'] as TestTransport[])(
    'over %s: a viewer may not stop, steer or approve; a steerer may not approve; approvers only approve; a steerer stops',
    async (transport) => {
      const calls = await start('approvers');
      const owner = await connect('olivia:owner', transport);
      await owner.prompt('Weather in Montreal?');
      const asked = (await owner.waitFor(
        (f) => f.type === 'event' && f.event === 'approval-required',
      )) as AiEventFrame<'approval-required'>;
      const runId = answerOf(owner.frames(), asked.sessionId).runId!;
      expect(await owner.role(runId)).toBe('owner');

      const viewer = await connect('victor:viewer', transport, runId);
      const steerer = await connect('sam:steerer', transport, runId);
      const approver = await connect('ada:approver', transport, runId);
      expect(await viewer.role(runId)).toBe('viewer');
      expect(await steerer.role(runId)).toBe('steerer');
      expect(await approver.role(runId)).toBe('approver');
      // Followers caught up on the run: they see the approval too.
      await viewer.waitFor((f) => f.type === 'event' && f.event === 'approval-required');

      // The viewer: stop, steer and approval each refused; nothing changes.
      await viewer.stop(runId);
      await refused(viewer);
      await viewer.steer(runId, 'v1', 'Say it in Latin.');
      await refused(viewer);
      await viewer.approve(asked.data.approvalId);
      await refused(viewer);
      // The steerer may steer but not approve; the owner may not approve either (approvals by approvers).
      await steerer.approve(asked.data.approvalId);
      await refused(steerer);
      await owner.approve(asked.data.approvalId);
      await refused(owner);
      expect(h!.endpoint.approvals.size).toBe(1);
      expect(h!.endpoint.active).toBe(1);
      expect(calls).toEqual([]);
      await steerer.steer(runId, 's1', 'Answer in French.');
      await owner.waitFor((f) => steerAcks([f]).length > 0);

      // The approver approves: the tool runs, and the steer reaches the follow-up call.
      await approver.approve(asked.data.approvalId);
      const requests = await h!.replay!.requests.waitForCount(2);
      expect(calls).toEqual(['Montréal']);
      expect(requests[1]!.body!['messages']).toContainEqual({ role: 'user', content: 'Answer in French.' });
      // Only the steerer's guidance ever arrived: the viewer's was refused.
      expect(steerAcks(owner.frames()).map((f) => f.data.steerId)).toEqual(['s1', 's1']);

      // The steerer stops the answer.
      await steerer.stop(runId);
      const answer = await owner.answer(asked.sessionId);
      expect(answer.end).toMatchObject({ type: 'complete', reason: 'stopped' });
      expect(await h!.replay!.aborts.next(1_000)).toBe(1);
      for (const client of [owner, viewer, steerer, approver]) await client.close();
    },
  );

  test('the default: every follower is an owner; a role hook that throws makes a viewer', async () => {
    h = await harness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 4 })],
      role: ({ resource, asker }) => {
        if (resource !== asker) throw new Error('no directory');
        return 'owner';
      },
    });
    const owner = await connectAiClient(h.url());
    await owner.prompt('Tell me a story');
    const first = await owner.waitFor((f) => f.type === 'metadata');
    const runId = answerOf(owner.frames(), first.sessionId).runId!;
    expect(await owner.role(runId)).toBe('owner');
    const other = await connectAiClient(h.url(), 'websocket', { query: { 'X-Atmosphere-Run-Id': runId } });
    expect(await other.role(runId)).toBe('viewer');
    await other.stop(runId);
    await refused(other);
    h.replay!.release();
    expect((await owner.answer(first.sessionId)).end).toMatchObject({ type: 'complete', reason: undefined });
    await owner.close();
    await other.close();
  });
});

/** The token of the session frame a connection that asked for a session received first. */
async function sessionTokenOf(client: AiTestClient): Promise<string> {
  const frame = await client.client.messages.waitFor((m) => m.startsWith('{"type":"atmosphere-session"'));
  return (JSON.parse(frame) as { token: string }).token;
}

describe('the owner of a run is the asker session (its token, recorded as a SHA-256 digest)', () => {
  test.each(['websocket', 'sse', 'long-polling'] as TestTransport[])(
    'over %s: the asker coming back with its token owns the run again; other sessions, or none, only watch',
    async (transport) => {
      h = await harness({
        steps: [sseStep('openai-text.sse', { pauseAfter: 4 })],
        atmosphere: { reconnectGraceMs: 5_000 },
      });
      const asker = await connectAiClient(h.url(), transport, {
        query: { 'X-Atmosphere-Session-Token': '0' },
      });
      const token = await sessionTokenOf(asker);
      await asker.prompt('Tell me a story');
      const first = await asker.waitFor((f) => f.type === 'metadata');
      const runId = answerOf(asker.frames(), first.sessionId).runId!;
      expect(await asker.role(runId)).toBe('owner');
      // The page goes away without a word (a reload): its connection is cut.
      asker.client.cut();

      const stranger = await connectAiClient(h.url(), transport, {
        query: { 'X-Atmosphere-Session-Token': '0', 'X-Atmosphere-Run-Id': runId },
      });
      const anonymous = await connectAiClient(h.url(), transport, {
        query: { 'X-Atmosphere-Run-Id': runId },
      });
      const reloaded = await connectAiClient(h.url(), transport, {
        query: { 'X-Atmosphere-Session-Token': token, 'X-Atmosphere-Run-Id': runId },
      });
      expect(await sessionTokenOf(reloaded)).toBe(token);
      expect(await stranger.role(runId)).toBe('viewer');
      expect(await anonymous.role(runId)).toBe('viewer');
      expect(await reloaded.role(runId)).toBe('owner');
      // Watchers are not refused: they caught up on the run.
      await stranger.waitFor((f) => f.type === 'streaming-text');
      await anonymous.waitFor((f) => f.type === 'streaming-text');

      for (const watcher of [stranger, anonymous]) {
        await watcher.stop(runId);
        await refused(watcher);
        await watcher.steer(runId, 'w1', 'Say it in Latin.');
        await refused(watcher);
      }
      expect(h.endpoint.active).toBe(1);
      // The token never travels in a frame to anyone, nor is it kept with the run.
      for (const client of [stranger, anonymous])
        expect(client.client.messages.items.some((m) => m.includes(token))).toBe(false);
      expect(h.endpoint.runs.get(runId)?.owner).toMatch(/^[0-9a-f]{64}$/);
      expect(h.endpoint.runs.get(runId)?.owner).not.toContain(token);

      await reloaded.stop(runId);
      const end = await reloaded.answer(first.sessionId);
      expect(end.end).toMatchObject({ type: 'complete', reason: 'stopped' });
      expect(await h.replay!.aborts.next(1_000)).toBe(0);
      for (const client of [stranger, anonymous, reloaded]) await client.close();
    },
  );

  test('a role hook is told whether the connection presents the asker session token', async () => {
    const seen: boolean[] = [];
    h = await harness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 4 })],
      role: ({ sessionOwner }) => (seen.push(sessionOwner), sessionOwner ? 'owner' : 'steerer'),
    });
    const asker = await connectAiClient(h.url(), 'websocket', {
      query: { 'X-Atmosphere-Session-Token': '0' },
    });
    await asker.prompt('Tell me a story');
    const first = await asker.waitFor((f) => f.type === 'metadata');
    const runId = answerOf(asker.frames(), first.sessionId).runId!;
    const other = await connectAiClient(h.url(), 'sse', {
      query: { 'X-Atmosphere-Session-Token': '0', 'X-Atmosphere-Run-Id': runId },
    });
    expect(await asker.role(runId)).toBe('owner');
    expect(await other.role(runId)).toBe('steerer');
    expect(seen).toEqual([true, false]);
    // Released once the replay paused (three tokens out), not before.
    await eventually(
      () => asker.frames().filter((f) => f.type === 'streaming-text').length === 3,
      'the pause',
    );
    h.replay!.release();
    await asker.answer(first.sessionId);
    await asker.close();
    await other.close();
  });
});
