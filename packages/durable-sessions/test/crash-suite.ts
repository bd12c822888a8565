import { afterAll, describe, expect, test } from 'vitest';
import { CONTINUE_INSTRUCTION } from '@atmosphere/ai/testing';
import { CrashClient, CrashServer, FULL_TEXT, killDuringAnswer } from './crash-harness.ts';
import { newFile, tempFolder } from './helpers.ts';

/** Kill points per transport and policy (each a SIGKILL and a restart of a real server process). */
const KILLS = 10;

/** The crash suite of one policy over every transport (a file per policy, so that they run side by side). */
export function crashSuite(policy: 'close' | 'continue'): void {
  const folder = tempFolder(`crash-${policy}`);
  describe.each(['websocket', 'sse', 'long-polling'] as const)(
    `policy ${policy}: SIGKILL mid-answer over %s`,
    (transport) => {
      const servers: CrashServer[] = [];
      const clients: CrashClient[] = [];
      afterAll(async () => {
        for (const client of clients) await client.close();
        for (const server of servers) await server.close();
      });

      test(`${KILLS} random kill points: exactly the text the log holds, no frame twice, no gap, then the policy's end`, async () => {
        const server = await CrashServer.start(newFile(folder, `${policy}-${transport}`), policy);
        servers.push(server);
        const client = new CrashClient(server.url(), transport);
        clients.push(client);
        const first = await client.sessions.next(10_000);
        expect(first.status).toBe('created');
        const seen: number[] = [];
        let continued = 0;
        for (let i = 0; i < KILLS; i++) {
          const killAfter = 1 + Math.floor(Math.random() * 38);
          const outcome = await killDuringAnswer(server, client, killAfter, `prompt ${i}`);
          seen.push(outcome.killedAfter);
          const context = `${policy}/${transport}, kill ${i} after ${outcome.killedAfter} tokens: ${JSON.stringify({ ...outcome, continuation: undefined })}; server: ${server.stderr}`;
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
          if (policy === 'close') {
            // The restarted process does not call the model again: the run ends INTERRUPTED (or complete,
            // when the kill fell after the last frame was written).
            expect(['INTERRUPTED', 'complete'], context).toContain(outcome.end);
            if (outcome.end === 'complete') expect(outcome.clientText, context).toBe(FULL_TEXT);
            expect(outcome.continuation, context).toBeUndefined();
          } else {
            // The restarted process continues the answer from the partial text: the whole answer, exactly.
            expect(outcome.end, context).toBe('complete');
            expect(outcome.clientText, context).toBe(FULL_TEXT);
            if (outcome.continuedFrom !== undefined) {
              continued++;
              const messages = (outcome.continuation as { messages?: { role: string; content: string }[] })
                ?.messages;
              expect(messages?.slice(-3), context).toEqual([
                { role: 'user', content: `prompt ${i}` },
                { role: 'assistant', content: outcome.continuedFrom },
                { role: 'user', content: CONTINUE_INSTRUCTION },
              ]);
            }
          }
        }
        expect(seen).toHaveLength(KILLS);
        // Kill points fall before the last of 40 tokens: most answers were cut, and those were continued.
        if (policy === 'continue') expect(continued).toBeGreaterThan(0);
      }, 90_000);
    },
  );
}
