import { demoRuntime } from '@atmosphere/ai';
import { weatherTool } from '@atmosphere/ai/testing';
import { llmRoomMember } from '@atmosphere/ai/rooms';
import { createRooms } from '@atmosphere/rooms';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, Inbox, startTestAtmosphere } from '@atmosphere/runtime/testing';
import type { RoomAiFrame } from '@atmosphere/protocol';
import { afterEach, expect, test } from 'vitest';
import { Atmosphere, AtmosphereClientError, AtmosphereRooms, type Subscription } from '../src/index.ts';

// Room refusals reach the client as typed errors (`SERVER_ERROR` with the room's `serverCode`), and a room's AI
// member's tool approval is answered through the room handle: approvers and owners only, once.

let server: Server | undefined;
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) await subscription.close();
  await server?.close();
  server = undefined;
});

async function startRooms(): Promise<{ url: string; ran: string[] }> {
  server = await startTestAtmosphere();
  const rooms = createRooms(server, { path: '/rooms', autoCreate: false });
  const ran: string[] = [];
  const weather = weatherTool({ name: 'weather', calls: ran, requiresApproval: true });
  rooms.room('lobby').joinVirtual(
    llmRoomMember({
      id: 'assistant',
      runtime: demoRuntime({ delayMs: 0 }),
      tools: [weather],
      answers: 'default',
      role: ({ member }) => (member.id.startsWith('guest-') ? 'viewer' : 'owner'),
    }),
  );
  return { url: server.url('/rooms'), ran };
}

function member(url: string, id: string, transport: 'websocket' | 'long-polling') {
  const subscription = new Atmosphere().subscribe({ url, transport, fallbackTransport: [] });
  subscriptions.push(subscription);
  const errors = new Inbox<AtmosphereClientError>();
  const frames = new Inbox<RoomAiFrame>();
  const handle = AtmosphereRooms.for(subscription).join(
    'lobby',
    { id },
    { error: (error) => errors.push(error), ai: (_from, frame) => frames.push(frame) },
  );
  return { handle, errors, frames };
}

test.each(['websocket', 'long-polling'] as const)(
  'over %s: refusals carry the room code (FORBIDDEN, UNKNOWN_RUN, UNKNOWN_APPROVAL); an owner approves once',
  async (transport) => {
    const { url, ran } = await startRooms();
    const owner = member(url, 'alice', transport);
    const guest = member(url, 'guest-1', transport);
    await eventually(() => owner.handle.roles.get('assistant') === 'owner', 'alice to learn her role');
    await eventually(() => guest.handle.roles.get('assistant') === 'viewer', 'the guest to learn its role');

    // Nothing runs: the stop is refused with UNKNOWN_RUN.
    owner.handle.stop('assistant');
    const unknownRun = await owner.errors.next();
    expect(AtmosphereClientError.isInstance(unknownRun)).toBe(true);
    expect([unknownRun.code, unknownRun.serverCode, unknownRun.message]).toEqual([
      'SERVER_ERROR',
      'UNKNOWN_RUN',
      'Room "lobby": assistant is not answering in room lobby; nothing to stop.',
    ]);

    owner.handle.broadcast('weather in Paris');
    const asked = await owner.frames.waitFor((f) => f.event === 'approval-required');
    const approvalId = (asked.data as { approvalId: string }).approvalId;
    await guest.frames.waitFor((f) => f.event === 'approval-required');
    // A viewer may not answer: FORBIDDEN, and the approval stays pending.
    guest.handle.approve('assistant', approvalId, 'approve');
    const forbidden = await guest.errors.next();
    expect([forbidden.code, forbidden.serverCode]).toEqual(['SERVER_ERROR', 'FORBIDDEN']);
    expect(ran).toEqual([]);
    // The owner approves with edited arguments: the tool runs with them, once.
    owner.handle.approve('assistant', approvalId, 'approve', { city: 'Lyon' });
    const answered = await owner.frames.waitFor((f) => f.event === 'approval-answered');
    expect(answered.data).toMatchObject({ approvalId, approved: true });
    await owner.frames.waitFor((f) => f.type === 'complete');
    expect(ran).toEqual(['Lyon']);
    // A second answer is refused with UNKNOWN_APPROVAL.
    owner.handle.approve('assistant', approvalId, 'deny');
    const late = await owner.errors.next();
    expect([late.code, late.serverCode, late.message]).toEqual([
      'SERVER_ERROR',
      'UNKNOWN_APPROVAL',
      `Room "lobby": The approval ${approvalId} of assistant was answered already or expired (a timeout denies it).`,
    ]);
    // A refusal without a code (not a turn) has no serverCode.
    guest.handle.sendTo('nobody', 'hi');
    const plain = await guest.errors.next();
    expect([plain.code, plain.serverCode, plain.message]).toEqual([
      'SERVER_ERROR',
      undefined,
      'Room "lobby": Member not found: nobody',
    ]);
    expect(ran).toEqual(['Lyon']);
  },
);
