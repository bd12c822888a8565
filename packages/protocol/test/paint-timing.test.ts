import { describe, expect, test } from 'vitest';
import {
  MAX_TIMING_AGE_MS,
  MAX_TIMING_SAMPLES,
  parseTimingMessage,
  TIMING_PREFIX,
  timingMessage,
} from '../src/index.ts';

describe('paint timing reports', () => {
  test('a report round-trips: run id, seqs and whole-millisecond ages', () => {
    const text = timingMessage('run_1-a', [
      { seq: 3, receivedAgoMs: 40.4, paintedAgoMs: 25.6 },
      { seq: 9, receivedAgoMs: 12, paintedAgoMs: 0 },
    ]);
    expect(text).toBe('/__timing/run_1-a [[3,40,26],[9,12,0]]');
    expect(parseTimingMessage(text)).toEqual({
      report: {
        runId: 'run_1-a',
        samples: [
          { seq: 3, receivedAgoMs: 40, paintedAgoMs: 26 },
          { seq: 9, receivedAgoMs: 12, paintedAgoMs: 0 },
        ],
      },
    });
  });

  test('at most MAX_TIMING_SAMPLES samples are written', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ seq: i + 1, receivedAgoMs: 5, paintedAgoMs: 1 }));
    const parsed = parseTimingMessage(timingMessage('r', many));
    expect('report' in parsed && parsed.report.samples.length).toBe(MAX_TIMING_SAMPLES);
  });

  test.each([
    ['x'.repeat(2000), 'too long'],
    ['/__stop/r', 'not a timing report'],
    [`${TIMING_PREFIX}r`, 'no samples'],
    [`${TIMING_PREFIX}bad/id [[1,2,1]]`, 'bad run id'],
    [`${TIMING_PREFIX}r {"seq":1}`, 'samples are not a non-empty array'],
    [`${TIMING_PREFIX}r []`, 'samples are not a non-empty array'],
    [`${TIMING_PREFIX}r [[1,2`, 'samples are not JSON'],
    [
      `${TIMING_PREFIX}r ${JSON.stringify(Array.from({ length: 33 }, () => [1, 2, 1]))}`,
      'more than 32 samples',
    ],
    [`${TIMING_PREFIX}r [[1,2]]`, 'a sample is not [seq, received, painted]'],
    [`${TIMING_PREFIX}r [[0,2,1]]`, 'a seq is not a positive integer'],
    [`${TIMING_PREFIX}r [[1.5,2,1]]`, 'a seq is not a positive integer'],
    [`${TIMING_PREFIX}r [["1",2,1]]`, 'a seq is not a positive integer'],
    [`${TIMING_PREFIX}r [[1,-2,-3]]`, 'an age is out of range'],
    [`${TIMING_PREFIX}r [[1,2.5,1]]`, 'an age is out of range'],
    [`${TIMING_PREFIX}r [[1,${MAX_TIMING_AGE_MS + 1},1]]`, 'an age is out of range'],
    [`${TIMING_PREFIX}r [[1,2,null]]`, 'an age is out of range'],
    [`${TIMING_PREFIX}r [[1,2,5]]`, 'a frame painted before it was received'],
  ])('refused whole: %s (%s)', (text, reason) => {
    expect(parseTimingMessage(text)).toEqual({ reason });
  });
});
