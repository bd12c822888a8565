import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AgentRuntime, OpenAiCompatibleRuntime } from '@atmosphere/ai';
import { type LlmRoomMember, llmRoomMember } from '@atmosphere/ai/rooms';
import { createRooms, type RoomManager } from '@atmosphere/rooms';
import { type Atmosphere, createAtmosphere, type Logger } from '@atmosphere/runtime';
import { buildPage, type PageFiles, servePage } from './page.ts';

/** Options of {@link startChat}. */
export interface ChatOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where LLM_* variables are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** A runtime for the AI members instead of the one the provider registry selects. */
  readonly runtime?: AgentRuntime;
  /** How long a member whose connection was cut may take to come back before the others see it leave. */
  readonly reconnectGraceMs?: number;
  /** The built page, when already built (tests build it once). */
  readonly page?: PageFiles;
}

/** What answers in the rooms, for the page's banner. */
export interface ModelInfo {
  /** `demo`, or the provider's runtime name. */
  readonly runtime: string;
  /** True when the demo model answers (no LLM_API_KEY). */
  readonly demo: boolean;
  readonly model: string | undefined;
}

/** A running sample. */
export interface Chat {
  readonly atmosphere: Atmosphere;
  readonly rooms: RoomManager;
  /** The page's URL. */
  readonly url: string;
  readonly model: ModelInfo;
  close(): Promise<void>;
}

/** The rooms the page offers; each has AI members. */
export const ROOMS = ['lobby', 'random'] as const;

const ASSISTANT_PROMPT =
  'You are Assistant, a member of a group chat. Several people read your answers. Answer briefly and helpfully; ' +
  'address people by name when it helps.';
const POET_PROMPT =
  'You are Poet, a member of a group chat. Answer every question with a short poem of four lines at most.';

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Starts the main sample: the page, and rooms (`/rooms`) where people and AI members talk. Each room has
 * `assistant` (answers unaddressed messages) and `poet` (answers when mentioned: `@poet`). The AI runtime is
 * the one the provider registry selects: `@atmosphere/ai/register` is autoloaded from this package's
 * dependencies, so without LLM_API_KEY a clearly labelled demo model answers, and with it the built-in
 * OpenAI-compatible client.
 */
export async function startChat(options: ChatOptions = {}): Promise<Chat> {
  const page = options.page ?? (await buildPage());
  const host = options.host ?? '127.0.0.1';
  let model: ModelInfo = { runtime: 'starting', demo: true, model: undefined };
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/api/info' && request.method === 'GET') {
      response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      response.end(JSON.stringify({ model, rooms: ROOMS }));
      return;
    }
    if (servePage(page, request, response)) return;
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('Not Found');
  });
  await listen(server, options.port ?? 8080, host);
  const atmosphere = await createAtmosphere({
    server,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.reconnectGraceMs === undefined ? {} : { reconnectGraceMs: options.reconnectGraceMs }),
    autoload: { root: new URL('..', import.meta.url).pathname },
  });
  const runtime = options.runtime ?? atmosphere.provider('agent-runtime');
  if (!runtime) throw new Error('No AI runtime could start; see the log above.');
  model = {
    runtime: runtime.name,
    demo: runtime.name === 'demo',
    model: runtime instanceof OpenAiCompatibleRuntime ? runtime.config.model : undefined,
  };
  const rooms = createRooms(atmosphere, { path: '/rooms', history: 200, autoCreate: false });
  const members: LlmRoomMember[] = [];
  for (const name of ROOMS) {
    const room = rooms.room(name);
    const assistant = llmRoomMember({
      id: 'assistant',
      metadata: { name: 'Assistant' },
      runtime,
      systemPrompt: ASSISTANT_PROMPT,
      answers: 'default',
    });
    const poet = llmRoomMember({
      id: 'poet',
      metadata: { name: 'Poet' },
      runtime,
      systemPrompt: POET_PROMPT,
    });
    room.joinVirtual(assistant);
    room.joinVirtual(poet);
    members.push(assistant, poet);
  }
  const address = server.address() as AddressInfo;
  return {
    atmosphere,
    rooms,
    url: `http://${host}:${address.port}/`,
    model,
    async close() {
      for (const member of members) await member.close();
      rooms.close();
      await atmosphere.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
