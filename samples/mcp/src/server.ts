import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mcpServer, type McpAuth, type McpEndpoint } from '@atmosphere/mcp';
import { createRooms } from '@atmosphere/rooms';
import { type Atmosphere, createAtmosphere, type Logger } from '@atmosphere/runtime';
import { FEED, PROMPTS, ROOM, TOOLS } from './tools.ts';

/** Options of {@link startMcpDashboard}. */
export interface McpDashboardOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly logger?: Logger;
  /** A bearer token MCP clients must send (`MCP_TOKEN`). Default: none (loopback clients only). */
  readonly token?: string;
}

/** A running sample. */
export interface McpDashboard {
  readonly atmosphere: Atmosphere;
  readonly mcp: McpEndpoint;
  /** The dashboard page. */
  readonly url: string;
  /** The MCP endpoint (Streamable HTTP). */
  readonly mcpUrl: string;
  /** The MCP endpoint (WebSocket). */
  readonly mcpWebSocketUrl: string;
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PUBLIC = new URL('../public/', import.meta.url);
// Only these files are served: no path from the request ever reaches the file system.
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/atmosphere-client.js': { file: 'atmosphere-client.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

async function serveStatic(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
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

function tokenAuth(token: string): McpAuth {
  return { verify: (given) => (given === token ? { id: 'mcp-client' } : undefined) };
}

/**
 * Starts the sample on one HTTP server: the dashboard page, the Atmosphere paths it uses (the feed topic
 * `/dashboard/feed`, the rooms protocol on `/rooms` with the room `ops`), and the MCP endpoint `/mcp`
 * (Streamable HTTP and WebSocket). `@atmosphere/mcp/register` is autoloaded from this package's dependencies,
 * so `atmosphere.close()` ends the MCP sessions too.
 */
export async function startMcpDashboard(options: McpDashboardOptions = {}): Promise<McpDashboard> {
  const server: Server = createServer((request, response) => {
    serveStatic(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });
  const atmosphere = await createAtmosphere({
    server,
    autoload: { root: ROOT },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  atmosphere.managed(FEED, {});
  const rooms = createRooms(atmosphere, { history: 50 });
  rooms.room(ROOM).makePersistent();
  rooms.mount('/rooms');
  const mcp = mcpServer(atmosphere, {
    path: '/mcp',
    name: 'atmosphere-dashboard',
    version: '1.0.0',
    instructions:
      'Tools of a live browser dashboard: announce shows a message, stream_answer types an answer out token by token, ' +
      'join_room / leave_room / say_in_room act in the "ops" room. Resources show who is in the room and what was said.',
    tools: TOOLS,
    prompts: PROMPTS,
    rooms,
    ...(options.token ? { auth: tokenAuth(options.token) } : {}),
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const base = `http://${host}:${address.port}`;
  return {
    atmosphere,
    mcp,
    url: `${base}/`,
    mcpUrl: `${base}/mcp`,
    mcpWebSocketUrl: `ws://${host}:${address.port}/mcp`,
    async close() {
      await atmosphere.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
