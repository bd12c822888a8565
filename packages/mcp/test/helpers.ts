import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { createRooms, type RoomManager } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import { startTestAtmosphere } from '@atmosphere/runtime/testing';
import { z } from 'zod';
import { mcpEndpoints, mcpServer, mcpTool, type McpEndpoint, type McpServerOptions } from '../src/index.ts';

/** A running Atmosphere with an MCP endpoint, and every server-side socket (to cut them). */
export interface Fixture {
  readonly atmosphere: Atmosphere;
  readonly endpoint: McpEndpoint;
  readonly rooms: RoomManager;
  readonly url: string;
  readonly wsUrl: string;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** Gates a tool on the test: `release()` lets the waiting `wait()` go on. */
export class Gate {
  #release: () => void = () => {};
  #promise: Promise<void> = Promise.resolve();

  constructor() {
    this.#reset();
  }

  #reset(): void {
    this.#promise = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
  }

  wait(): Promise<void> {
    return this.#promise;
  }

  release(): void {
    this.#release();
    this.#reset();
  }
}

export const gate = new Gate();

/** Tools every test file can call. */
export const TEST_TOOLS = [
  mcpTool({
    name: 'echo',
    description: 'Echoes its text.',
    inputSchema: { text: z.string().max(1000) },
    execute: ({ text }) => `echo: ${text}`,
  }),
  mcpTool({
    name: 'announce',
    description: 'Broadcasts a message to a topic.',
    inputSchema: { topic: z.string(), message: z.string() },
    async execute({ topic, message }, context) {
      await context.broadcast(topic, message);
      return 'sent';
    },
  }),
  mcpTool({
    name: 'count',
    description: 'Sends notifications 1..n (logging messages), pausing on the test gate after `pauseAfter`.',
    inputSchema: { n: z.number().int().min(1).max(100), pauseAfter: z.number().int() },
    async execute({ n, pauseAfter }, context) {
      for (let i = 1; i <= n; i++) {
        await context.extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', data: i },
        });
        if (i === pauseAfter) await gate.wait();
      }
      return `counted to ${n}`;
    },
  }),
  mcpTool({
    name: 'seat',
    description: 'Seats a virtual member in a room.',
    inputSchema: { room: z.string(), member: z.string() },
    async execute({ room, member }, context) {
      await context.joinRoom(room, member, { metadata: { name: member } });
      return `${member} joined ${room}`;
    },
  }),
  mcpTool({
    name: 'unseat',
    description: 'Makes a virtual member leave a room.',
    inputSchema: { room: z.string(), member: z.string() },
    async execute({ room, member }, context) {
      const left = (await context.room(room)).leaveVirtual(member);
      return left ? 'left' : 'absent';
    },
  }),
  mcpTool({
    name: 'stream_answer',
    description: 'Streams an answer token by token to the browsers of a topic.',
    inputSchema: { topic: z.string(), tokens: z.array(z.string()).max(200) },
    async execute({ topic, tokens }, context) {
      const session = await context.stream(topic);
      for (const [index, token] of tokens.entries()) {
        session.send(token);
        await context.progress(index + 1, { total: tokens.length, message: `token ${index + 1}` });
      }
      session.complete();
      return tokens.join('');
    },
  }),
  mcpTool({
    name: 'room_answer',
    description: 'Seats a member in a room and streams an answer there as that member.',
    inputSchema: { room: z.string(), member: z.string(), tokens: z.array(z.string()).max(200) },
    async execute({ room, member, tokens }, context) {
      const seat = await context.joinRoom(room, member);
      const session = await context.stream(seat);
      for (const token of tokens) session.send(token);
      return tokens.join('');
    },
  }),
];

export async function startFixture(options: Partial<McpServerOptions> = {}): Promise<Fixture> {
  const atmosphere = await startTestAtmosphere({ providers: [mcpEndpoints()] });
  const sockets = new Set<Socket>();
  atmosphere.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const rooms = createRooms(atmosphere);
  const endpoint = mcpServer(atmosphere, {
    path: '/mcp',
    name: 'atmosphere-test',
    version: '1.0.0',
    tools: TEST_TOOLS,
    rooms,
    retryIntervalMs: 50,
    ...options,
  });
  return {
    atmosphere,
    endpoint,
    rooms,
    url: atmosphere.url(options.path ?? '/mcp'),
    wsUrl: atmosphere.url(options.path ?? '/mcp', 'ws'),
    sockets,
    close: () => atmosphere.close(),
  };
}

/** A raw HTTP answer. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A raw HTTP request (node:http, so `Host` can be anything), resolved with the whole answer. */
export function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: options.method ?? 'POST', headers: options.headers ?? {}, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Headers of an MCP POST. */
export const POST_HEADERS = Object.freeze({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
});

/** The JSON-RPC messages of an answer: the JSON body, or the `data:` lines of an SSE body. */
export function messagesOf(response: RawResponse): Record<string, unknown>[] {
  const type = String(response.headers['content-type'] ?? '');
  if (type.startsWith('text/event-stream')) {
    return response.body
      .split('\n')
      .filter((line) => line.startsWith('data: ') && line.length > 7)
      .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
  }
  return [JSON.parse(response.body) as Record<string, unknown>];
}

export const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

/** Initializes a session with raw HTTP; returns its id. */
export async function rawSession(url: string, headers: Record<string, string> = {}): Promise<string> {
  const answer = await raw(url, { headers: { ...POST_HEADERS, ...headers }, body: INITIALIZE });
  const id = answer.headers['mcp-session-id'];
  if (answer.status !== 200 || typeof id !== 'string') {
    throw new Error(`initialize failed: ${answer.status} ${answer.body}`);
  }
  await raw(url, {
    headers: { ...POST_HEADERS, ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  return id;
}
