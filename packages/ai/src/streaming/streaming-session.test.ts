import { describe, expect, test } from 'vitest';
import { CollectingSink } from './frame-sink.ts';
import { parseAiFrame } from '@atmosphere/protocol';
import { RunRegistry } from './run-registry.ts';
import { FrameStreamingSession } from './streaming-session.ts';

function session(options: { announceRunId?: boolean } = {}) {
  const sink = new CollectingSink();
  const s = new FrameStreamingSession({ sink, announceRunId: options.announceRunId ?? false });
  return { sink, session: s, frames: () => sink.frames.map((f) => JSON.parse(f) as Record<string, unknown>) };
}

describe('FrameStreamingSession', () => {
  test('every call is one frame of PROTOCOL.md §7, seq from 1, in call order', () => {
    const { session: s, frames } = session();
    s.send('Hel');
    s.progress('Thinking…');
    s.metadata('ai.model', 'gpt-4o-mini');
    s.emit({ event: 'tool-start', data: { toolName: 'weather', arguments: { city: 'Montreal' } } });
    s.toolCallDelta('call_1', '{"ci');
    s.usage({ input: 3, output: 4, total: 7 });
    s.complete('done');
    const sid = s.sessionId;
    expect(frames()).toEqual([
      { type: 'streaming-text', data: 'Hel', sessionId: sid, seq: 1 },
      { type: 'progress', data: 'Thinking…', sessionId: sid, seq: 2 },
      { type: 'metadata', key: 'ai.model', value: 'gpt-4o-mini', sessionId: sid, seq: 3 },
      {
        event: 'tool-start',
        data: { toolName: 'weather', arguments: { city: 'Montreal' } },
        sessionId: sid,
        seq: 4,
      },
      { type: 'metadata', key: 'ai.toolCall.delta.call_1', value: '{"ci', sessionId: sid, seq: 5 },
      { type: 'metadata', key: 'ai.tokens.input', value: 3, sessionId: sid, seq: 6 },
      { type: 'metadata', key: 'ai.tokens.output', value: 4, sessionId: sid, seq: 7 },
      { type: 'metadata', key: 'ai.tokens.total', value: 7, sessionId: sid, seq: 8 },
      { type: 'complete', data: 'done', sessionId: sid, seq: 9 },
    ]);
  });

  test('the run id is announced first, and each session gets a fresh session id', () => {
    const a = session({ announceRunId: true });
    const b = session({ announceRunId: true });
    expect(a.frames()).toEqual([
      {
        type: 'metadata',
        key: 'X-Atmosphere-Run-Id',
        value: a.session.runId,
        sessionId: a.session.sessionId,
        seq: 1,
      },
    ]);
    expect(a.session.sessionId).not.toBe(b.session.sessionId);
    expect(a.session.runId).not.toBe(b.session.runId);
  });

  test('after complete, writes are dropped and complete/error are idempotent', async () => {
    const { session: s, sink } = session();
    s.send('a');
    s.complete();
    s.complete('again');
    s.error(new Error('late'));
    s.send('late text');
    s.emit({ event: 'progress', data: { message: 'late' } });
    expect(sink.frames).toHaveLength(2);
    expect(s.closed).toBe(true);
    expect(await s.done).toEqual({ status: 'complete', summary: undefined });
  });

  test('error is terminal, carries the message and code, and the first terminal wins', async () => {
    const { session: s, frames } = session();
    s.error(Object.assign(new Error('The model API answered 500'), {}));
    s.complete();
    expect(frames()).toEqual([
      {
        type: 'error',
        data: 'The model API answered 500',
        code: 'AI_FAILED',
        sessionId: s.sessionId,
        seq: 1,
      },
    ]);
    expect((await s.done).status).toBe('error');
  });

  test('cancel aborts the signal and ends with a CANCELLED error frame', () => {
    const { session: s, frames } = session();
    s.cancel('the client left');
    expect(s.signal.aborted).toBe(true);
    expect(frames()).toMatchObject([{ type: 'error', code: 'CANCELLED', seq: 1 }]);
  });

  test('special characters are escaped once, and frames parse back', () => {
    const { session: s, sink } = session();
    const tricky = 'quote " backslash \\ newline \n emoji 🚀 </script>';
    s.send(tricky);
    const frame = parseAiFrame(sink.frames[0]!);
    expect(frame).toMatchObject({ type: 'streaming-text', data: tricky });
  });

  test('frames are recorded in the run for re-attach until the session ends', () => {
    const registry = new RunRegistry();
    const record = registry.start('run-1', 'session-1');
    const sink = new CollectingSink();
    const s = new FrameStreamingSession({ sink, run: record, runId: 'run-1', sessionId: 'session-1' });
    s.send('a');
    s.send('b');
    s.complete();
    expect(record.finished).toBe(true);
    expect(record.framesAfter(0)).toEqual(sink.frames);
    expect(record.framesAfter(2)).toEqual(sink.frames.slice(2));
    expect(registry.get('run-1')).toBe(record);
    registry.close();
  });
});

describe('RunRegistry', () => {
  test('forgets finished runs after the TTL, keeps live ones', () => {
    const registry = new RunRegistry({ ttlMs: 1_000 });
    const finished = registry.start('a', 's1');
    registry.start('b', 's2');
    finished.finish();
    registry.sweep(finished.finishedAt + 1_001);
    expect(registry.get('a')).toBeUndefined();
    expect(registry.get('b')).toBeDefined();
    registry.close();
  });

  test('keeps at most maxFramesPerRun frames, dropping the oldest in batches', () => {
    const registry = new RunRegistry({ maxFramesPerRun: 32 });
    const record = registry.start('a', 's');
    for (let i = 1; i <= 100; i++) record.record(`f${i}`);
    const kept = record.framesAfter(0);
    expect(kept.length).toBeLessThanOrEqual(32);
    expect(kept.at(-1)).toBe('f100');
    expect(record.lastSeq).toBe(100);
    expect(record.framesAfter(95)).toEqual(['f96', 'f97', 'f98', 'f99', 'f100']);
    registry.close();
  });

  test('evicts the oldest finished run when full', () => {
    const registry = new RunRegistry({ maxRuns: 2 });
    registry.start('a', 's').finish();
    registry.start('b', 's');
    registry.start('c', 's');
    expect(registry.get('a')).toBeUndefined();
    expect(registry.size).toBe(2);
    registry.close();
  });
});
