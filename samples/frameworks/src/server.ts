import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AgentRuntime, aiEndpoint, OpenAiCompatibleRuntime } from '@atmosphere/ai';
import { llmRoomMember } from '@atmosphere/ai/rooms';
import { createRooms, type RoomManager } from '@atmosphere/rooms';
import { type Atmosphere, createAtmosphere, type Logger } from '@atmosphere/runtime';
import { liveEndpoints } from './live.ts';
import { buildPages, type PageFiles, servePage } from './pages.ts';

/** Options of {@link startFrameworks}. */
export interface FrameworksOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where LLM_* variables are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /**
   * The model behind `/ai` and the room's AI member. Default: the runtime the provider registry selects — the
   * built-in OpenAI-compatible client with LLM_API_KEY, else the demo model.
   */
  readonly runtime?: AgentRuntime;
  /** Milliseconds between two ticks on `/ticker`. Default 1000. */
  readonly tickMs?: number;
  /** How long a page whose connection was cut may take to come back before the room sees it leave. */
  readonly reconnectGraceMs?: number;
  /** The built pages, when already built (tests build them once). */
  readonly pages?: PageFiles;
}

/** What answers `/ai` and `@assistant`. */
export interface ModelInfo {
  /** `demo`, or the runtime's name. */
  readonly runtime: string;
  /** True when the demo model answers (no LLM_API_KEY). */
  readonly demo: boolean;
  /** The model name, for the built-in OpenAI-compatible runtime. */
  readonly model?: string;
}

/** A running sample. */
export interface Frameworks {
  /** The Atmosphere instance attached to the sample's HTTP server. */
  readonly atmosphere: Atmosphere;
  /** The rooms served on `/rooms`. */
  readonly rooms: RoomManager;
  /** The index page's URL (`/`); the pages are at `react/`, `vue/` and `svelte/` under it. */
  readonly url: string;
  readonly model: ModelInfo;
  /** Stops the ticker and the AI member, closes every connection and the HTTP server. */
  close(): Promise<void>;
}

/** The room of the pages (`@atmosphere/rooms`, with history). */
export const ROOM = 'lobby';
/** The id of the room's AI member (`@assistant` addresses it). */
export const AI_MEMBER = 'assistant';

const SYSTEM_PROMPT =
  'You are Assistant, a member of a group chat shown on React, Vue and Svelte pages. Answer briefly.';

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
 * Starts the sample: the pages (built with Vite), and on the same port
 * - `/ticker` and `/live`: live messages (a tick every second; what a page posts, every page receives);
 * - `/ai`: an `aiEndpoint`, one-to-one AI answers streamed token by token;
 * - `/rooms`: rooms with history (`lobby`), where an AI member, `assistant`, answers messages that mention it.
 */
export async function startFrameworks(options: FrameworksOptions = {}): Promise<Frameworks> {
  const pages = options.pages ?? (await buildPages());
  const host = options.host ?? '127.0.0.1';
  let model: ModelInfo = { runtime: 'starting', demo: true };
  const server = createServer((request, response) => {
    if ((request.url ?? '/').split('?')[0] === '/api/info' && request.method === 'GET') {
      // What answers, for the pages' banner (the demo model is labelled as such).
      response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      response.end(JSON.stringify({ model }));
      return;
    }
    if (servePage(pages, request, response)) return;
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('Not Found');
  });
  await listen(server, options.port ?? 8080, host);
  const atmosphere = await createAtmosphere({
    server,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.reconnectGraceMs === undefined ? {} : { reconnectGraceMs: options.reconnectGraceMs }),
    // `@atmosphere/ai/register` (found in this package's dependencies) registers the built-in and demo runtimes.
    autoload: { root: new URL('..', import.meta.url).pathname },
  });
  const runtime = options.runtime ?? atmosphere.provider('agent-runtime');
  if (!runtime) {
    await atmosphere.close();
    server.close();
    throw new Error('No AI runtime could start; see the log above.');
  }
  const live = liveEndpoints(atmosphere, options.tickMs === undefined ? {} : { tickMs: options.tickMs });
  const ai = aiEndpoint(atmosphere, { path: '/ai', runtime, systemPrompt: 'Answer briefly.' });
  const rooms = createRooms(atmosphere, { path: '/rooms', history: 100, autoCreate: false });
  const assistant = llmRoomMember({
    id: AI_MEMBER,
    metadata: { name: 'Assistant' },
    runtime,
    systemPrompt: SYSTEM_PROMPT,
  });
  rooms.room(ROOM).joinVirtual(assistant);
  model = {
    runtime: runtime.name,
    demo: runtime.name === 'demo',
    ...(runtime instanceof OpenAiCompatibleRuntime ? { model: runtime.config.model } : {}),
  };
  const address = server.address() as AddressInfo;
  return {
    atmosphere,
    rooms,
    url: `http://${host}:${address.port}/`,
    model,
    async close() {
      live.close();
      await assistant.close();
      await ai.close();
      rooms.close();
      await atmosphere.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
