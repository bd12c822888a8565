import { mcpPrompt, mcpTool } from '@atmosphere/mcp';
import { z } from 'zod';

/** The topic the dashboard subscribes to: announcements and streamed answers. */
export const FEED = '/dashboard/feed';
/** The room the dashboard joins. */
export const ROOM = 'ops';
/** The virtual member that speaks for the MCP client in the room. */
export const ASSISTANT = 'assistant';

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** Splits a text into the tokens a model would stream: words with their following space. */
export function tokensOf(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

export const announce = mcpTool({
  name: 'announce',
  title: 'Announce on the dashboard',
  description: 'Shows an announcement on every open dashboard (a broadcast to the dashboard feed).',
  inputSchema: {
    text: z.string().min(1).max(500).describe('What to announce'),
    level: z.enum(['info', 'success', 'warning']).default('info').describe('How it is shown'),
  },
  async execute({ text, level }, context) {
    await context.broadcast(FEED, JSON.stringify({ type: 'announcement', text, level }));
    return `Announced on the dashboard: ${text}`;
  },
});

export const streamAnswer = mcpTool({
  name: 'stream_answer',
  title: 'Stream an answer to the dashboard',
  description:
    'Streams a text to every open dashboard token by token, as an AI answer (write the answer, this tool types it out live). ' +
    'Reports progress to the caller and to the dashboard.',
  inputSchema: {
    title: z.string().min(1).max(200).describe('A title shown above the answer'),
    text: z.string().min(1).max(20_000).describe('The answer to stream'),
    delayMs: z.number().int().min(0).max(500).default(40).describe('Pause between tokens (ms)'),
  },
  async execute({ title, text, delayMs }, context) {
    const session = await context.stream(FEED);
    session.metadata('title', title);
    const tokens = tokensOf(text);
    for (const [index, token] of tokens.entries()) {
      session.send(token);
      if ((index + 1) % 10 === 0 || index + 1 === tokens.length) {
        await context.progress(index + 1, {
          total: tokens.length,
          message: `${index + 1}/${tokens.length} tokens`,
        });
      }
      if (delayMs > 0) await pause(delayMs, context.signal);
    }
    session.complete();
    return `Streamed ${tokens.length} tokens to the dashboard.`;
  },
});

export const joinRoom = mcpTool({
  name: 'join_room',
  title: 'Join the ops room',
  description: `Seats a virtual member in the "${ROOM}" room: every dashboard sees it arrive. It stays until leave_room or until this MCP session ends.`,
  inputSchema: {
    member: z
      .string()
      .regex(/^[A-Za-z0-9_.:@+-]{1,64}$/)
      .default(ASSISTANT)
      .describe('The member id'),
  },
  async execute({ member }, context) {
    const room = await context.room(ROOM);
    if (room.has(member)) return `${member} is already in ${ROOM}.`;
    await context.joinRoom(ROOM, member, { metadata: { name: member, kind: 'mcp' } });
    return `${member} joined ${ROOM}; members now: ${room
      .members()
      .map((m) => m.id)
      .join(', ')}`;
  },
});

export const leaveRoom = mcpTool({
  name: 'leave_room',
  title: 'Leave the ops room',
  description: `Makes a virtual member leave the "${ROOM}" room.`,
  inputSchema: { member: z.string().max(64).default(ASSISTANT).describe('The member id') },
  async execute({ member }, context) {
    const left = (await context.room(ROOM)).leaveVirtual(member);
    return left ? `${member} left ${ROOM}.` : `${member} was not in ${ROOM}.`;
  },
});

export const say = mcpTool({
  name: 'say_in_room',
  title: 'Say something in the ops room',
  description: `Says a message in the "${ROOM}" room as a virtual member (it joins first if needed). The message is kept in the room history.`,
  inputSchema: {
    text: z.string().min(1).max(2000).describe('The message'),
    member: z
      .string()
      .regex(/^[A-Za-z0-9_.:@+-]{1,64}$/)
      .default(ASSISTANT)
      .describe('Who says it'),
  },
  async execute({ text, member }, context) {
    const room = await context.room(ROOM);
    if (!room.has(member)) await context.joinRoom(ROOM, member, { metadata: { name: member, kind: 'mcp' } });
    const message = await room.broadcast({ text }, member);
    return `Said in ${ROOM} as ${member}${message.id === undefined ? '' : ` (message ${message.id})`}.`;
  },
});

export const briefing = mcpPrompt({
  name: 'dashboard_briefing',
  title: 'Brief the dashboard',
  description: 'Asks the model to write a short briefing and stream it to the dashboard.',
  argsSchema: { topic: z.string().describe('What the briefing is about') },
  get: ({ topic }) => ({
    messages: [
      {
        role: 'user',
        content: {
          type: 'text',
          text:
            `Write a three-sentence briefing about ${topic}. Then call stream_answer with it (title: "Briefing"), ` +
            'announce "Briefing ready" with level success, and say "Briefing posted" in the ops room.',
        },
      },
    ],
  }),
});

export const TOOLS = [announce, streamAnswer, joinRoom, leaveRoom, say];
export const PROMPTS = [briefing];
