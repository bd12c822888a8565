import { recordingLogger } from '../testing/server.ts';
import { expect, test } from 'vitest';
import { WarningThrottle } from './warning-throttle.ts';

test('the first warning of a kind is logged; repeats within the interval go to debug and are counted in the next', () => {
  const logger = recordingLogger();
  let now = 1_000;
  const throttle = new WarningThrottle(logger, 10_000, () => now);
  throttle.warn('malformed', 'one');
  throttle.warn('malformed', 'two');
  throttle.warn('other', 'another kind');
  now += 9_999;
  throttle.warn('malformed', 'three');
  now += 1;
  throttle.warn('malformed', 'four');
  expect(logger.lines).toEqual([
    { level: 'warn', message: 'one' },
    { level: 'debug', message: 'two' },
    { level: 'warn', message: 'another kind' },
    { level: 'debug', message: 'three' },
    { level: 'warn', message: 'four (and 2 more like it since the last warning)' },
  ]);
});

test('flush reports the count held back once the interval is over (every kind when forced), and forgets quiet kinds', () => {
  const logger = recordingLogger();
  let now = 0;
  const throttle = new WarningThrottle(logger, 10_000, () => now);
  throttle.warn('evicted', 'evicted a');
  throttle.warn('evicted', 'evicted b');
  throttle.warn('evicted', 'evicted c');
  throttle.warn('cut', 'cut a');
  now += 5_000;
  throttle.flush();
  expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(2);
  now += 5_000;
  throttle.flush();
  // The evictions held back are reported; the lone cut had none to report.
  expect(logger.lines.filter((line) => line.level === 'warn').slice(2)).toEqual([
    { level: 'warn', message: '2 more like it since the last warning; the last: evicted c' },
  ]);
  throttle.warn('evicted', 'evicted d');
  throttle.flush(true);
  expect(logger.lines.at(-1)).toEqual({
    level: 'warn',
    message: '1 more like it since the last warning; the last: evicted d',
  });
  // Quiet for a whole interval: forgotten, so the next one is a warning again.
  now += 20_000;
  throttle.flush();
  throttle.warn('cut', 'cut b');
  expect(logger.lines.at(-1)).toEqual({ level: 'warn', message: 'cut b' });
});
