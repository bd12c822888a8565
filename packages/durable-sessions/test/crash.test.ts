import { afterAll, describe, expect, test } from 'vitest';
import { CrashClient, CrashServer, FULL_TEXT, killDuringAnswer } from './crash-harness.ts';
import { newFile, tempFolder } from './helpers.ts';

const folder = tempFolder('crash');
/** Kill points per transport (each a SIGKILL and a restart of a real server process). */
const KILLS = 10;

describe.each(['websocket', 'sse', 'long-polling'] as const)('SIGKILL mid-answer over %s', (transport) => {
  const servers: CrashServer[] = [];
  const clients: CrashClient[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
    for (const server of servers) await server.close();
  });

  test(`${KILLS} random kill points: the client ends with exactly the text the log holds, no frame twice, no gap, then INTERRUPTED`, async () => {
    const server = await CrashServer.start(newFile(folder, transport));
    servers.push(server);
    const client = new CrashClient(server.url(), transport);
    clients.push(client);
    const first = await client.sessions.next(10_000);
    expect(first.status).toBe('created');
    const seen: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const killAfter = 1 + Math.floor(Math.random() * 38);
      const outcome = await killDuringAnswer(server, client, killAfter, `prompt ${i}`);
      seen.push(outcome.killedAfter);
      const context = `${transport}, kill ${i} after ${outcome.killedAfter} tokens: ${JSON.stringify(outcome)}; server: ${server.stderr}`;
      // The restarted process found the session in the SQLite file: the token is honoured, not replaced.
      expect(outcome.session, context).toMatchObject({ token: first.token, status: 'resumed' });
      expect(outcome.session.refused, context).toBeUndefined();
      expect(outcome.duplicated, context).toBe(0);
      // The client re-attaches with the last seq it saw: the server resends only what it missed.
      expect(outcome.wireDuplicated, context).toBe(0);
      expect(outcome.lost, context).toBe(0);
      expect(outcome.clientText, context).toBe(outcome.logText);
      expect(FULL_TEXT.startsWith(outcome.clientText), context).toBe(true);
      expect(outcome.clientText.length, context).toBeGreaterThanOrEqual(outcome.killedAfter * 3);
      // Policy close: the restarted process cannot continue the model call; the run ends INTERRUPTED
      // (or complete, when the kill fell after the last frame was written).
      expect(['INTERRUPTED', 'complete'], context).toContain(outcome.end);
      if (outcome.end === 'complete') expect(outcome.clientText, context).toBe(FULL_TEXT);
    }
    expect(seen).toHaveLength(KILLS);
  }, 60_000);
});
