import { request as httpRequest } from 'node:http';
import { defineProvider, MemoryStreamLog, type StreamLog } from '@atmosphere/runtime/spi';
import {
  eventually,
  recordingLogger,
  startForSelection,
  startTestAtmosphere,
  watchedLog,
} from '@atmosphere/runtime/testing';
import { expect, test } from 'vitest';
import { mcpEndpoints, mcpServer } from '../src/index.ts';
import { POST_HEADERS, raw, rawSession, startFixture, TEST_TOOLS } from './helpers.ts';

/** Opens the session's GET stream; resolves how it ended: 'end' (the server ended it) or 'aborted'. */
function openStream(
  url: string,
  session: string,
): Promise<{ opened: Promise<void>; ended: Promise<'end' | 'aborted'> }> {
  return new Promise((resolve, reject) => {
    let markOpen: () => void = () => {};
    const opened = new Promise<void>((done) => (markOpen = done));
    const ended = new Promise<'end' | 'aborted'>((done) => {
      const request = httpRequest(
        url,
        {
          method: 'GET',
          agent: false,
          headers: {
            accept: 'text/event-stream',
            'mcp-session-id': session,
            'mcp-protocol-version': '2025-11-25',
          },
        },
        (response) => {
          expect(response.statusCode).toBe(200);
          markOpen();
          response.on('data', () => {});
          response.on('end', () => done('end'));
          response.on('aborted', () => done('aborted'));
          response.on('error', () => done('aborted'));
        },
      );
      request.on('error', reject);
      request.end();
    });
    resolve({ opened, ended });
  });
}

test('atmosphere.close() ends open MCP streams and sessions through the mcp-endpoints provider', async () => {
  const fixture = await startFixture();
  const session = await rawSession(fixture.url);
  const seat = await raw(fixture.url, {
    headers: { ...POST_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'seat', arguments: { room: 'r', member: 'm' } },
    }),
  });
  expect(seat.status).toBe(200);
  expect(fixture.rooms.room('r').has('m')).toBe(true);
  const stream = await openStream(fixture.url, session);
  await stream.opened;
  expect(fixture.endpoint.sessionCount).toBe(1);
  const room = fixture.rooms.room('r');
  await fixture.close();
  // The stream was ended by the endpoint (a clean end of the chunked response), not cut at the deadline.
  expect(await stream.ended).toBe('end');
  expect(fixture.endpoint.sessionCount).toBe(0);
  expect(room.has('m')).toBe(false);
});

test('endpoint.close() unregisters the route and closes its sessions', async () => {
  const fixture = await startFixture();
  try {
    const session = await rawSession(fixture.url);
    await fixture.endpoint.close();
    expect(fixture.endpoint.sessionCount).toBe(0);
    const after = await raw(fixture.url, {
      headers: { ...POST_HEADERS, 'mcp-session-id': session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(after.status).toBe(404);
  } finally {
    await fixture.close();
  }
});

test('without the provider, atmosphere.close() still ends the endpoint (its route closes with the server)', async () => {
  const logger = recordingLogger();
  const atmosphere = await startTestAtmosphere({ logger });
  // The register entry is not loaded yet in this file: no mcp-endpoints provider is selected.
  expect(atmosphere.provider('mcp-endpoints')).toBeUndefined();
  mcpServer(atmosphere, { path: '/mcp', name: 'n', version: '1', rooms: false });
  expect(atmosphere.describe().routes).toEqual(['/mcp']);
  expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  await atmosphere.close();
  // The endpoint's close() ran from the route's close hook: it removed its route.
  expect(atmosphere.describe().routes).toEqual([]);
});

test('the register entry makes the mcp-endpoints provider available; the startup line names both endpoints', async () => {
  await import('../src/register.ts');
  const { atmosphere, logger, line } = await startForSelection('mcp-endpoints', {});
  try {
    expect(line).toMatch(/^mcp-endpoints: mcp/);
    mcpServer(atmosphere, { path: '/tools', name: 'named', version: '2.0.0', rooms: false });
    const startup = logger.lines.find((l) => l.message.startsWith('MCP server named'))?.message;
    expect(startup).toBe(
      `MCP server named 2.0.0 on ${atmosphere.url('/tools')} (Streamable HTTP, protocol 2025-11-25, resumable on the memory stream log)` +
        ` and ${atmosphere.url('/tools', 'ws')} (WebSocket, subprotocol mcp); loopback clients only; auth: none`,
    );
    expect(atmosphere.provider('mcp-endpoints')?.paths()).toEqual(['/tools']);
  } finally {
    await atmosphere.close();
  }
});

test('invalid options are refused with the option named', async () => {
  const atmosphere = await startTestAtmosphere();
  try {
    expect(() => mcpServer(atmosphere, { path: 'mcp', name: 'n', version: '1' })).toThrow(
      /`path` must start with "\/"/,
    );
    expect(() => mcpServer(atmosphere, { path: '/mcp', name: '', version: '1' })).toThrow(
      /`name` and `version`/,
    );
    expect(() =>
      mcpServer(atmosphere, { path: '/mcp', name: 'n', version: '1', security: { maxSessions: 0 } }),
    ).toThrow(/security\.maxSessions/);
  } finally {
    await atmosphere.close();
  }
});

/** A store standing for a durable one: the memory log under another name, counting what MCP appends. */
function countingLog(): StreamLog & { readonly appended: Map<string, number> } {
  const appended = new Map<string, number>();
  const log = watchedLog(
    new MemoryStreamLog(),
    { append: (stream, entries) => appended.set(stream, (appended.get(stream) ?? 0) + entries.length) },
    { name: 'counting', durable: false, shared: false },
  );
  return Object.assign(log, { appended });
}

test('stream events go to the stream log the registry selected, and are deleted when the session ends', async () => {
  const log = countingLog();
  const atmosphere = await startTestAtmosphere({
    providers: [
      mcpEndpoints(),
      defineProvider({
        kind: 'stream-log',
        name: 'counting',
        priority: 10,
        isAvailable: () => true,
        create: () => log,
      }),
    ],
  });
  try {
    const endpoint = mcpServer(atmosphere, {
      path: '/mcp',
      name: 'n',
      version: '1',
      rooms: false,
      tools: TEST_TOOLS,
    });
    expect(endpoint.describe().resumability).toEqual({ log: 'counting', durable: false });
    const url = atmosphere.url('/mcp');
    const session = await rawSession(url);
    const headers = { ...POST_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const call = await raw(url, {
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x' } },
      }),
    });
    expect(call.status).toBe(200);
    const streams = [...log.appended.keys()].filter((key) => key.startsWith(`mcp:/mcp:${session}:`));
    // initialize's stream and the call's: a priming event and the answer each.
    expect(streams).toHaveLength(2);
    for (const stream of streams) expect(log.appended.get(stream)).toBe(2);
    const end = await raw(url, { method: 'DELETE', headers });
    expect(end.status).toBe(200);
    await eventually(() => streams.every((stream) => log.state(stream) === undefined));
  } finally {
    await atmosphere.close();
  }
});
