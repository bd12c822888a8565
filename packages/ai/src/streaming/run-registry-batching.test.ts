import { parseAiFrame, textFrame } from '@atmosphere/protocol';
import { BATCH_PAYLOAD, MemoryStreamLog, type StreamLog } from '@atmosphere/runtime/spi';
import { watchedLog } from '@atmosphere/runtime/testing';
import { describe, expect, test } from 'vitest';
import { RunRegistry } from './run-registry.ts';

/**
 * How many store writes a run's frames cost: the runtime's log behind a wrapper that counts `append` calls to
 * the run's stream (on Redis each is one script call; on SQLite one set of statements in the turn's transaction) and says
 * whether the store takes a turn's appends together (`batchAppends`, as SQLite and Redis do). 1 000 tokens
 * arrive 10 per turn, as a provider's chunks carry several. The figures are counted, never timed.
 *
 * Measured: before, one `append` per frame on every store — 1 000 appends for 1 000 tokens; now, on a store
 * with `batchAppends`, one per turn — 100 appends for the same 1 000 tokens at 10 per turn. End to end (an
 * `aiEndpoint` on SQLite, the OpenAI runtime against the replay server, 1 000 tokens, 1 003 frames), the run
 * stream took 1 003 appends before at any chunking; now 1 003 when each SSE event comes in a read of its own,
 * 598 with 512-byte reads, 76 with 4 KiB reads (the path stream's appends are the broadcaster's: 1 003).
 */
function counted(
  batchAppends: boolean,
): StreamLog & { appends: number; entries: number; payloads: number[] } {
  const counts = { appends: 0, entries: 0, payloads: [] as number[] };
  const log = watchedLog(
    new MemoryStreamLog(),
    {
      append(stream, entries) {
        // The frames' appends (`ai-run:<runId>`), not the run's description (`ai-run-meta:<runId>`).
        if (!stream.startsWith('ai-run:')) return;
        counted.appends++;
        counted.entries += entries.length;
        counted.payloads.push(entries.reduce((sum, entry) => sum + String(entry.payload).length, 0));
      },
    },
    { name: 'counted', durable: true, shared: false, batchAppends },
  );
  const counted = Object.assign(log, counts);
  return counted;
}

const TOKENS = 1_000;
const PER_TURN = 10;
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Records TOKENS text frames, PER_TURN each turn of the event loop, then reads the run back. */
async function runOf(store: StreamLog): Promise<string[]> {
  const runs = new RunRegistry({ log: store });
  const record = runs.start('run-batch', 's');
  for (let seq = 1; seq <= TOKENS; seq++) {
    record.record(textFrame(`t${seq} `, 's', seq));
    if (seq % PER_TURN === 0) await turn();
  }
  record.finish();
  await turn();
  const stored = await new RunRegistry({ log: store }).read('run-batch');
  runs.close();
  return (
    stored?.frames.map((payload) => {
      const frame = parseAiFrame(payload)!;
      return `${frame.seq}:${frame.type === 'streaming-text' ? frame.data : frame.type}`;
    }) ?? []
  );
}

const expected = Array.from({ length: TOKENS }, (_, i) => `${i + 1}:t${i + 1} `);

describe("a run's frames reach the log in one append per turn", () => {
  test('a store with batchAppends: 1 000 tokens at 10 per turn are 100 appends, every frame kept in order', async () => {
    const store = counted(true);
    expect(await runOf(store)).toEqual(expected);
    expect(store.appends).toBe(TOKENS / PER_TURN);
    expect(store.entries).toBe(TOKENS);
  });

  test('a store without it gets one append per frame (what every store got before)', async () => {
    const store = counted(false);
    expect(await runOf(store)).toEqual(expected);
    expect(store.appends).toBe(TOKENS);
  });

  test('a turn with more frames than one batch holds is split, in order', async () => {
    const store = counted(true);
    const record = new RunRegistry({ log: store }).start('run-big', 's');
    for (let seq = 1; seq <= 2_500; seq++) record.record(textFrame('x', 's', seq));
    await turn();
    expect(store.appends).toBe(3);
    expect(
      (await new RunRegistry({ log: store }).read('run-big'))?.frames.map((f) => parseAiFrame(f)!.seq),
    ).toEqual(Array.from({ length: 2_500 }, (_, i) => i + 1));
  });

  test('a turn whose frames total more than 512 KiB is split into appends of at most 512 KiB each, in order', async () => {
    const store = counted(true);
    const record = new RunRegistry({ log: store }).start('run-wide', 's');
    // 40 frames of 30 000 characters each, one turn: about 1.2 MB of payload.
    const sent = Array.from({ length: 40 }, (_, i) =>
      textFrame(`${String(i).padStart(2, '0')}${'x'.repeat(29_998)}`, 's', i + 1),
    );
    for (const frame of sent) record.record(frame);
    await turn();
    const total = store.payloads.reduce((sum, size) => sum + size, 0);
    expect(total).toBeGreaterThan(2 * BATCH_PAYLOAD);
    expect(store.appends).toBe(3);
    for (const size of store.payloads) expect(size).toBeLessThanOrEqual(BATCH_PAYLOAD);
    expect(store.entries).toBe(40);
    expect(await new RunRegistry({ log: store }).read('run-wide')).toMatchObject({ frames: sent });
  });
});
