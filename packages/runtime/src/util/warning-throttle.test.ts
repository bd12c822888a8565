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
