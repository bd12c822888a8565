import { createHash } from 'node:crypto';

/**
 * The owner of a run as it is recorded (in memory and in the durable log): the SHA-256 digest (hex) of the
 * asker's session token, never the token itself, so that a copy of the log or of a run record grants nothing.
 * `undefined` for a connection without a session.
 */
export function runOwnerOf(sessionToken: string | undefined): string | undefined {
  if (sessionToken === undefined || sessionToken === '') return undefined;
  return createHash('sha256').update(sessionToken).digest('hex');
}
