import { AtmosphereError } from '@atmosphere/runtime';
import { expect, test } from 'vitest';
import { liveMessage } from './live.ts';

test('a posted message is kept as { from, text }, its text trimmed', () => {
  expect(liveMessage({ from: 'alice', text: '  hello  ', extra: true }, 500)).toEqual({
    from: 'alice',
    text: 'hello',
  });
});

test.each([
  ['not an object', 'hello'],
  ['no from', { text: 'hello' }],
  ['a bad from', { from: 'a b', text: 'hello' }],
  ['no text', { from: 'alice' }],
  ['an empty text', { from: 'alice', text: '   ' }],
  ['a text too long', { from: 'alice', text: 'x'.repeat(501) }],
])('%s is refused with BAD_REQUEST (HTTP 400)', (_, input) => {
  let refusal: unknown;
  try {
    liveMessage(input, 500);
  } catch (error) {
    refusal = error;
  }
  expect(AtmosphereError.isInstance(refusal)).toBe(true);
  expect(refusal).toMatchObject({ code: 'BAD_REQUEST', status: 400 });
});
