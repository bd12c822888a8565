import { createHash } from 'node:crypto';

/**
 * The key a session is stored under: the SHA-256 of its token (hex). Stores never keep the token itself, so
 * that reading the file or the Redis keys does not give anyone a session.
 */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
