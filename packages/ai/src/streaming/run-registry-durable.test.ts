import { completeFrame, parseAiFrame, textFrame } from '@atmosphere/protocol';
import { MemoryStreamLog } from '@atmosphere/runtime/spi';
import { describe, expect, test } from 'vitest';
import { runOwnerOf } from './run-owner.ts';
import { INTERRUPTED_CODE, RunRegistry, runMetaStream, runStream } from './run-registry.ts';

describe('a run registry on a stream log', () => {
  test('framesSince: what the log holds after a seq, and whether it ends the run; undefined once trimmed', async () => {
    const log = new MemoryStreamLog();
    const record = new RunRegistry({ log }).start('run-s', 'ss');
    for (let seq = 1; seq <= 4; seq++) record.record(textFrame(`t${seq}`, 'ss', seq));
    const follower = new RunRegistry({ log });
    const mid = await follower.framesSince('run-s', 2);
    expect(mid?.frames.map((f) => parseAiFrame(f)?.seq)).toEqual([3, 4]);
    expect(mid?.terminal).toBe(false);
    expect(await follower.framesSince('run-s', 4)).toEqual({ frames: [], terminal: false });
    record.record(completeFrame(undefined, 'ss', 5));
    expect(await follower.framesSince('run-s', 4)).toMatchObject({ terminal: true });
    expect(await follower.framesSince('unknown-run', 0)).toBeUndefined();
    log.trim(runStream('run-s'), 4);
    expect(await follower.framesSince('run-s', 1)).toBeUndefined();
    expect((await follower.framesSince('run-s', 3))?.frames.map((f) => parseAiFrame(f)?.seq)).toEqual([4, 5]);
  });

  test('every frame is appended to the run stream, log seq = frame seq', () => {
    const log = new MemoryStreamLog();
    const runs = new RunRegistry({ log });
    const record = runs.start('run-1', 's1');
    record.record(textFrame('a', 's1', 1));
    record.record(textFrame('b', 's1', 2));
    const read = log.read(runStream('run-1'), 0);
    expect(read?.records.map((r) => [r.seq, parseAiFrame(String(r.payload))?.seq])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  test('a run cut mid-answer is recovered after a restart: the missed frames, then INTERRUPTED, once for all', async () => {
    const log = new MemoryStreamLog();
    const before = new RunRegistry({ log });
    const record = before.start('run-2', 's2');
    for (let seq = 1; seq <= 5; seq++) record.record(textFrame(`t${seq}`, 's2', seq));
    const after = new RunRegistry({ log });
    const frames = await after.recover('run-2', 3);
    expect(frames?.map((f) => parseAiFrame(f))).toEqual([
      expect.objectContaining({ type: 'streaming-text', data: 't4', seq: 4 }),
      expect.objectContaining({ type: 'streaming-text', data: 't5', seq: 5 }),
      expect.objectContaining({ type: 'error', code: INTERRUPTED_CODE, sessionId: 's2', seq: 6 }),
    ]);
    const again = await new RunRegistry({ log }).recover('run-2', 0);
    expect(again).toHaveLength(6);
    expect(log.state(runStream('run-2'))?.last).toBe(6);
  });

  test('a finished run is replayed as it ended; an unknown run, or one without a log, is undefined', async () => {
    const log = new MemoryStreamLog();
    const record = new RunRegistry({ log }).start('run-3', 's3');
    record.record(textFrame('done', 's3', 1));
    record.record(completeFrame(undefined, 's3', 2));
    const frames = await new RunRegistry({ log }).recover('run-3', 1);
    expect(frames?.map((f) => parseAiFrame(f)?.type)).toEqual(['complete']);
    expect(await new RunRegistry({ log }).recover('nope', 0)).toBeUndefined();
    expect(await new RunRegistry().recover('run-3', 0)).toBeUndefined();
  });

  test('the owner is kept as the digest of the session token, never the token, and read back after a restart', async () => {
    const log = new MemoryStreamLog();
    const token = 'a-session-token-of-forty-three-characters-x';
    const owner = runOwnerOf(token)!;
    expect(owner).toMatch(/^[0-9a-f]{64}$/);
    const record = new RunRegistry({ log }).start('run-4', 's4', owner);
    expect(record.owner).toBe(owner);
    record.record(textFrame('cut', 's4', 1));
    const meta = log.read(runMetaStream('run-4'), 0)!.records.map((r) => String(r.payload));
    expect(meta).toEqual([JSON.stringify({ owner })]);
    expect(meta.join()).not.toContain(token);
    const after = new RunRegistry({ log });
    const stored = await after.read('run-4');
    expect(stored?.owner).toBe(owner);
    expect(after.restore('run-4', stored!, false).owner).toBe(owner);
    // A run without a session is recorded as such (null: anyone's), and a forged owner entry (not a digest)
    // is ignored.
    new RunRegistry({ log }).start('run-5', 's5').record(textFrame('x', 's5', 1));
    expect(log.read(runMetaStream('run-5'), 0)!.records.map((r) => String(r.payload))).toEqual([
      JSON.stringify({ owner: null }),
    ]);
    log.append(runMetaStream('run-5'), [{ payload: JSON.stringify({ owner: token }) }]);
    expect((await new RunRegistry({ log }).read('run-5'))?.owner).toBeNull();
    // A run whose owner record is gone has an unknown owner (undefined), not an open one.
    log.delete(runMetaStream('run-5'));
    expect((await new RunRegistry({ log }).read('run-5'))?.owner).toBeUndefined();
    expect(runOwnerOf(undefined)).toBeUndefined();
  });
});
