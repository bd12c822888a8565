import { SESSION_TOKEN_PATTERN as PROTOCOL_PATTERN } from '@atmosphere/protocol';
import { expect, test } from 'vitest';
import { SESSION_TOKEN_PATTERN } from '../spi/session-store.ts';
import { isSessionToken, newSessionToken } from './session-data.ts';

test('the form of a session token is defined once, by the protocol: the server checks the one clients check', () => {
  expect(SESSION_TOKEN_PATTERN).toBe(PROTOCOL_PATTERN);
  expect(isSessionToken(newSessionToken())).toBe(true);
  expect(isSessionToken('a'.repeat(22))).toBe(true);
  expect(isSessionToken('a'.repeat(128))).toBe(true);
  for (const bad of ['a'.repeat(21), 'a'.repeat(129), `${'a'.repeat(30)}=`, `${'a'.repeat(30)}.b`, '0', 42])
    expect(isSessionToken(bad)).toBe(false);
});
