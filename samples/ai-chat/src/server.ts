import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type AgentRuntime,
  aiEndpoint,
  type AiEndpointHandle,
  OpenAiCompatibleRuntime,
} from '@atmosphere/ai';
import { type Atmosphere, createAtmosphere, type Logger } from '@atmosphere/runtime';
import { sendEmail, weather } from './tools.ts';

/** Options of {@link startAiChat}. */
export interface AiChatOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where LLM_* variables are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** A runtime to use instead of the one the registry selects. */
  readonly runtime?: AgentRuntime;
  /** How long a cut client may take to come back. Default 60 s. */
  readonly reconnectGraceMs?: number;
}

/** A running sample. */
export interface AiChat {
  readonly atmosphere: Atmosphere;
  readonly endpoint: AiEndpointHandle;
  /** The page's URL. */
  readonly url: string;
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PUBLIC = new URL('../public/', import.meta.url);
// Only these files are served: no path from the request ever reaches the file system.
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ai-client.js': { file: 'ai-client.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

export const SYSTEM_PROMPT =
  'You are the assistant of the Atmosphere AI chat sample. Answer briefly. Use the weather tool for weather questions ' +
  'and send_email when asked to email someone (the user approves each email).';

async function serveStatic(
  request: IncomingMessage,
  response: ServerResponse,
  info: () => unknown,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  if (path === '/api/info') {
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    response.end(JSON.stringify(info()));
    return;
  }
  const entry = FILES[path];
  if (!entry || (request.method !== 'GET' && request.method !== 'HEAD')) {
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('Not Found');
    return;
  }
  const body = await readFile(new URL(entry.file, PUBLIC));
  response.writeHead(200, {
    'Content-Type': entry.type,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/**
 * Starts the sample: a static page and the AI endpoint `/ai/chat` on one HTTP server. The runtime is chosen by
 * the registry: `@atmosphere/ai/register` is autoloaded from this package's dependencies, so without
 * LLM_API_KEY the demo model answers, and with it the built-in OpenAI-compatible client.
 */
export async function startAiChat(options: AiChatOptions = {}): Promise<AiChat> {
  // The page asks which runtime answers; the endpoint exists only once Atmosphere started.
  const current: { endpoint?: AiEndpointHandle } = {};
  const info = (): unknown => {
    const runtime = current.endpoint?.runtime;
    return {
      runtime: runtime?.name,
      model:
        runtime instanceof OpenAiCompatibleRuntime
          ? runtime.config.model
          : runtime?.name === 'demo'
            ? 'demo'
            : undefined,
      capabilities: runtime ? [...runtime.capabilities] : [],
    };
  };
  const server: Server = createServer((request, response) => {
    serveStatic(request, response, info).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  const atmosphere = await createAtmosphere({
    server,
    autoload: { root: ROOT },
    env: options.env ?? process.env,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.reconnectGraceMs === undefined ? {} : { reconnectGraceMs: options.reconnectGraceMs }),
  });
  const endpoint = aiEndpoint(atmosphere, {
    path: '/ai/chat',
    systemPrompt: SYSTEM_PROMPT,
    tools: [weather, sendEmail],
    ...(options.runtime ? { runtime: options.runtime } : {}),
    // The asker owns its answer; a tab that follows it with the run id (the page's watch link) only watches.
    role: ({ resource, asker }) => (resource.id === asker?.id ? 'owner' : 'viewer'),
    onPrompt: async (prompt, session) => {
      session.progress('Thinking…');
      await session.stream(prompt);
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  current.endpoint = endpoint;
  const handle = endpoint;
  return {
    atmosphere,
    endpoint: handle,
    url: `http://${host}:${address.port}/`,
    async close() {
      await handle.close();
      await atmosphere.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
