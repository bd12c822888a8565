import { aiEndpoint, demoRuntime } from '@atmosphere/ai';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, expect, test } from 'vitest';
import { Atmosphere, ChatModel, StreamingModel } from '../src/index.ts';
import { closeServer } from './helpers.ts';

/**
 * A server restarted with the memory store no longer knows the run a client was following: the client
 * re-attaches with the run id and gets a terminal error frame saying the run is gone, and the models behind
 * useStreaming and useChat leave the streaming state instead of waiting forever.
 */
const servers: Server[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const server of servers.splice(0)) await closeServer(server);
});

async function start(port = 0): Promise<Server> {
  const server = await startTestAtmosphere({ port, reconnectGraceMs: 5_000 });
  // A long answer at a model's pace: still running when the server goes down.
  const endpoint = aiEndpoint(server, {
    path: '/ai',
    runtime: demoRuntime({
      delayMs: 50,
      answer: () => Array.from({ length: 400 }, (_, i) => `w${i}`).join(' '),
    }),
  });
  servers.push(server);
  cleanups.push(() => endpoint.close());
  return server;
}

test.each(['websocket', 'sse'] as const)(
  '%s: re-attaching to a run the restarted server does not know gets the terminal UNKNOWN_RUN error frame; the models stop streaming',
  async (transport) => {
    const first = await start();
    const port = first.address()!.port;
    const client = new Atmosphere();
    const request = { url: first.url('/ai'), transport, fallbackTransport: [], reconnectInterval: 50 };
    const streaming = new StreamingModel({ request, atmosphere: client });
    const chat = new ChatModel({ request, atmosphere: client });
    streaming.connect();
    chat.connect();
    cleanups.push(() => {
      streaming.disconnect();
      chat.disconnect();
    });
    await eventually(() => streaming.getSnapshot().connectionState === 'connected', 'connected');
    chat.append('Tell me a long story');
    await eventually(() => streaming.getSnapshot().tokenCount >= 3, 'the answer streaming');
    expect(streaming.getSnapshot().isStreaming).toBe(true);
    expect(chat.getSnapshot().isLoading).toBe(true);

    // The process goes down mid-answer (every socket dropped), and comes back on the same port, empty.
    await closeServer(first);
    servers.splice(servers.indexOf(first), 1);
    await start(port);

    await eventually(() => !streaming.getSnapshot().isStreaming, 'the stream to end', 10_000);
    const state = streaming.getSnapshot();
    expect(state.error).toMatch(/Run .* is unknown or expired; send the prompt again/);
    expect(state.stats?.status).toBe('error');
    await eventually(() => !chat.getSnapshot().isLoading, 'the chat to stop loading');
    expect(chat.getSnapshot().error).toMatch(/unknown or expired/);
    expect(chat.getSnapshot().messages.at(-1)).toMatchObject({ role: 'assistant', status: 'error' });
    // The connection itself is fine: a new prompt is answered by the new server.
    chat.append('Again');
    await eventually(() => streaming.getSnapshot().tokenCount >= 2, 'a new answer', 10_000);
  },
);
