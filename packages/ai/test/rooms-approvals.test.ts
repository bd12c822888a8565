import type { TestTransport } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { llmRoomMember } from '../src/rooms/index.ts';
import { tool } from '../src/tools/tool.ts';
import { sseStep } from './fixtures.ts';
import { type Frame, type RoomClient, type RoomsHarness, roomsHarness } from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const fromAssistant = (f: Frame): boolean => f['from'] === 'assistant';
const isEvent = (name: string) => (f: Frame) => fromAssistant(f) && f['event'] === name;
const errors = (frames: readonly Frame[]) =>
  frames.filter((f) => f.type === 'error' && f['room'] === 'lobby');

/** The tool openai-tool-call.sse asks for, gated by an approval; counts its runs and the arguments it got. */
function weatherTool() {
  const ran: unknown[] = [];
  const weather = tool({
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: z.object({ city: z.string() }),
    requiresApproval: true,
    approvalMessage: ({ city }) => `Look up the weather in ${city}?`,
    execute: (args) => {
      ran.push(args);
      return { city: args.city, celsius: 21 };
    },
  });
  return { weather, ran };
}

/** The `approval-required` event of the assistant's answer, as `member` received it. */
async function approvalAsked(
  member: RoomClient,
): Promise<{ approvalId: string; data: Record<string, unknown> }> {
  const asked = await member.waitFor(isEvent('approval-required'));
  const data = asked['data'] as Record<string, unknown>;
  return { approvalId: data['approvalId'] as string, data };
}

/** A room with an AI member whose tool needs approval: `owner` and `approver-*` may approve, `guest-*` views. */
async function room(approvalTimeoutMs?: number) {
  h = await roomsHarness({
    steps: [sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse')],
  });
  const { weather, ran } = weatherTool();
  h.rooms.room('lobby').joinVirtual(
    llmRoomMember({
      id: 'assistant',
      runtime: h.runtime(),
      tools: [weather],
      ...(approvalTimeoutMs === undefined ? {} : { approvalTimeoutMs }),
      role: ({ member }) =>
        member.id === 'owner'
          ? 'owner'
          : member.id.startsWith('approver-')
            ? 'approver'
            : member.id.startsWith('steerer-')
              ? 'steerer'
              : 'viewer',
    }),
  );
  return { h, ran };
}

describe('room AI members: tool approvals answered by the room (approvers and owners, once, denied on timeout)', () => {
  test.each(['websocket', 'long-polling'] as TestTransport[])(
    'over %s a viewer and a steerer are refused (FORBIDDEN), an approver approves once, a second answer is refused',
    async (transport) => {
      const { h, ran } = await room();
      const owner = await h.member('owner', 'lobby');
      const viewer = await h.member('guest-1', 'lobby', transport);
      const steerer = await h.member('steerer-1', 'lobby', transport);
      const approver = await h.member('approver-1', 'lobby', transport);
      await owner.say('lobby', '@assistant weather in Montreal?');
      const { approvalId, data } = await approvalAsked(approver);
      expect(data).toMatchObject({ toolName: 'get_weather', message: 'Look up the weather in Montréal?' });
      // Everyone sees the question, whatever its role.
      await viewer.waitFor(isEvent('approval-required'));
      const answer = { type: 'approval', room: 'lobby', memberId: 'assistant', approvalId };
      await viewer.send({ ...answer, decision: 'approve' });
      expect(await viewer.waitFor((f) => f.type === 'error')).toEqual({
        type: 'error',
        room: 'lobby',
        code: 'FORBIDDEN',
        data: "This connection's role (viewer) may not answer the approvals of assistant in room lobby (approvers and owners may).",
      });
      await steerer.send({ ...answer, decision: 'deny' });
      expect(await steerer.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'FORBIDDEN' });
      // Still pending: the approver's answer decides.
      await approver.send({ ...answer, decision: 'approve' });
      const answered = await owner.waitFor(isEvent('approval-answered'));
      expect(answered['data']).toMatchObject({ approvalId, approved: true });
      await owner.waitFor((f) => f.type === 'message' && fromAssistant(f));
      expect(ran).toEqual([{ city: 'Montréal' }]);
      // Answered once: the owner's late answer is refused and changes nothing.
      await owner.send({ ...answer, decision: 'deny' });
      expect(await owner.waitFor((f) => f.type === 'error')).toEqual({
        type: 'error',
        room: 'lobby',
        code: 'UNKNOWN_APPROVAL',
        data: `The approval ${approvalId} of assistant was answered already or expired (a timeout denies it).`,
      });
      expect(owner.frames().filter(isEvent('approval-answered'))).toHaveLength(1);
      expect(errors(approver.frames())).toEqual([]);
    },
  );

  test('an owner denies: the tool does not run, the model is told', async () => {
    const { h, ran } = await room();
    const owner = await h.member('owner', 'lobby');
    await owner.say('lobby', '@assistant weather in Montreal?');
    const { approvalId } = await approvalAsked(owner);
    await owner.send({
      type: 'approval',
      room: 'lobby',
      memberId: 'assistant',
      approvalId,
      decision: 'deny',
    });
    expect((await owner.waitFor(isEvent('approval-answered')))['data']).toMatchObject({
      approvalId,
      approved: false,
      reason: 'denied',
    });
    await owner.waitFor((f) => f.type === 'message' && fromAssistant(f));
    expect(ran).toEqual([]);
    const requests = await h.replay.requests.waitForCount(2);
    const messages = requests[1]!.body!['messages'] as { role: string; content: unknown }[];
    expect(messages.at(-1)).toMatchObject({ role: 'tool' });
    expect(String(messages.at(-1)!.content)).toMatch(/denied/i);
    expect(errors(owner.frames())).toEqual([]);
  });

  test('edited arguments: the tool runs with them', async () => {
    const { h, ran } = await room();
    const owner = await h.member('owner', 'lobby');
    await owner.say('lobby', '@assistant weather in Montreal?');
    const { approvalId } = await approvalAsked(owner);
    await owner.send({
      type: 'approval',
      room: 'lobby',
      memberId: 'assistant',
      approvalId,
      decision: 'approve',
      arguments: { city: 'Quebec' },
    });
    await owner.waitFor((f) => f.type === 'message' && fromAssistant(f));
    expect(ran).toEqual([{ city: 'Quebec' }]);
  });

  test('undecided until the timeout: denied, the tool never runs, a late answer is refused', async () => {
    const { h, ran } = await room(300);
    const owner = await h.member('owner', 'lobby');
    await owner.say('lobby', '@assistant weather in Montreal?');
    const { approvalId, data } = await approvalAsked(owner);
    expect(data['expiresIn']).toBe(1);
    const answered = await owner.waitFor(isEvent('approval-answered'), 5_000);
    expect(answered['data']).toMatchObject({ approvalId, approved: false, reason: 'timeout' });
    await owner.waitFor((f) => f.type === 'message' && fromAssistant(f));
    expect(ran).toEqual([]);
    await owner.send({
      type: 'approval',
      room: 'lobby',
      memberId: 'assistant',
      approvalId,
      decision: 'approve',
    });
    expect(await owner.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'UNKNOWN_APPROVAL' });
    expect(ran).toEqual([]);
  });

  test('bad approval frames are refused with a reason; an unknown id gets UNKNOWN_APPROVAL', async () => {
    const { h } = await room();
    const owner = await h.member('owner', 'lobby');
    const base = { type: 'approval', room: 'lobby', memberId: 'assistant' };
    await owner.send({ ...base, approvalId: 'no spaces', decision: 'approve' });
    expect((await owner.waitFor((f) => f.type === 'error'))['data']).toBe(
      'Invalid approvalId: expected the approvalId of the approval-required event',
    );
    await owner.send({ ...base, approvalId: 'a1', decision: 'maybe' });
    expect((await owner.waitFor((f) => f.type === 'error'))['data']).toBe(
      'Invalid decision: expected "approve" or "deny"',
    );
    await owner.send({ ...base, approvalId: 'a1', decision: 'deny', arguments: { city: 'x' } });
    expect((await owner.waitFor((f) => f.type === 'error'))['data']).toBe(
      'Invalid arguments: expected an object, with "approve" only',
    );
    await owner.send({ ...base, approvalId: 'a1', decision: 'approve' });
    expect(await owner.waitFor((f) => f.type === 'error')).toEqual({
      type: 'error',
      room: 'lobby',
      code: 'UNKNOWN_APPROVAL',
      data: 'assistant has no pending approval a1 in room lobby.',
    });
  });
});
