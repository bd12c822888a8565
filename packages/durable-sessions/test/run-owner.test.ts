import { openAiTranscript } from '@atmosphere/ai/testing';
import { type AiTestClient, answerOf, connectAiClient } from '@atmosphere/ai/testing';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import { eventually, startTestRedis, type TestRedis, type TestTransport } from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadBetterSqlite3 } from '../src/sqlite/database.ts';
import { CrashServer } from './crash-harness.ts';
import { newFile, tempFolder } from './helpers.ts';

/**
 * The owner of an AI run is its asker's session: after the server was killed with SIGKILL and restarted on the
 * same store, the client that comes back with its session token owns the continued run (it may stop it);
 * another session coming back to the run follows it but may not control it. Real server processes, a real
 * SQLite file or redis-server, real connections.
 */
const folder = tempFolder('run-owner');
let redis: TestRedis | undefined;
let server: CrashServer | undefined;
const clients: AiTestClient[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  await server?.close();
  server = undefined;
});

async function connect(
  url: string,
  query: Record<string, string>,
  transport: TestTransport = 'websocket',
): Promise<AiTestClient> {
  const client = await connectAiClient(url, transport, { query });
  clients.push(client);
  return client;
}

/** The session frame the connection got first: its token and whether the session was created or resumed. */
async function sessionOf(client: AiTestClient): Promise<{ token: string; status: string }> {
  const frame = await client.client.messages.waitFor((m) => m.startsWith('{"type":"atmosphere-session"'));
  return JSON.parse(frame) as { token: string; status: string };
}

const texts = (client: AiTestClient) => client.frames().filter((f) => f.type === 'streaming-text').length;

describe.each(['sqlite', 'redis'] as const)('on %s', (store) => {
  test.each(['websocket', 'sse', 'long-polling'] as const)(
    'over %s: after SIGKILL and a restart, the asker session owns the continued run; another session only watches',
    async (transport) => {
      const file = store === 'sqlite' ? newFile(folder, 'owner') : redis!.url;
      server = await CrashServer.start(file, 'continue');
      // The first answer pauses after three tokens: the server dies mid-answer.
      server.replay.enqueue({
        kind: 'sse',
        body: openAiTranscript({ text: ['one ', 'two ', 'three ', 'four '] }),
        pauseAfter: 4,
      });
      const asker = await connect(server.url(), { [AtmosphereHeaders.sessionToken]: '0' });
      const { token } = await sessionOf(asker);
      await asker.prompt('Count to four');
      const first = await asker.waitFor((f) => f.type === 'metadata');
      const runId = answerOf(asker.frames(), first.sessionId).runId!;
      expect(await asker.role(runId)).toBe('owner');
      await eventually(() => texts(asker) === 3, 'three tokens');
      const lastSeq = asker.frames().at(-1)!.seq;
      await server.kill();

      // The continuation pauses too, so the run is live while both come back.
      server.replay.enqueue({ kind: 'sse', body: openAiTranscript({ text: ['four '] }), pauseAfter: 1 });
      await server.restart();
      // Another session comes back to the run first (it starts the continuation): it watches.
      const stranger = await connect(
        server.url(),
        { [AtmosphereHeaders.sessionToken]: '0', [AtmosphereHeaders.runId]: runId },
        transport,
      );
      expect(await stranger.role(runId, 10_000)).toBe('viewer');
      await stranger.waitFor((f) => f.type === 'streaming-text');
      await stranger.stop(runId);
      expect(await stranger.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'FORBIDDEN' });

      // The asker's page comes back with its token: the session is resumed and the run is its own again.
      const back = await connect(
        server.url(),
        {
          [AtmosphereHeaders.sessionToken]: token,
          [AtmosphereHeaders.runId]: runId,
          [AtmosphereHeaders.lastSeq]: String(lastSeq),
        },
        transport,
      );
      expect(await sessionOf(back)).toMatchObject({ token, status: 'resumed' });
      expect(await back.role(runId)).toBe('owner');
      await back.stop(runId);
      const end = await back.waitFor((f) => f.type === 'complete' || f.type === 'error', 10_000);
      expect(end).toMatchObject({ type: 'complete', reason: 'stopped' });
      expect(await stranger.waitFor((f) => f.type === 'complete', 5_000)).toMatchObject({
        reason: 'stopped',
      });

      if (store === 'sqlite') {
        // What the file keeps of the run names its owner by digest only: the token is nowhere in it.
        const Database = await loadBetterSqlite3();
        const database = new Database(file, { readonly: true });
        try {
          const rows = database.prepare('SELECT payload FROM atmosphere_records').all() as {
            payload: string | Buffer;
          }[];
          const all = rows.map((row) => String(row.payload)).join('\n');
          expect(all).toMatch(/"owner":"[0-9a-f]{64}"/);
          expect(all).not.toContain(token);
        } finally {
          database.close();
        }
      }
      expect(server.stderr).not.toContain(token);
    },
  );
});
