import type { IncomingMessage } from 'node:http';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import type { ProtocolRequest } from '../spi/request.ts';
import type { ServedResource } from './served-resource.ts';

/** How long after its handshake a stream may still be the target of a post sent with tracking id `0`. */
export const EARLY_POST_WINDOW_MS = 10_000;
/** At most this many streams are remembered at once (the oldest are forgotten first). */
const MAX_PENDING = 10_000;

interface Pending {
  readonly resource: ServedResource;
  readonly at: number;
  /** An early post went to it already. */
  bound: boolean;
  /**
   * What a post must match: path, remote address, user agent, cookie and auth token. Not the origin: a
   * same-origin EventSource or GET carries none, the POST does (the origin check has passed for both).
   */
  readonly fingerprint: string;
}

function fingerprint(path: string, request: IncomingMessage, protocol: ProtocolRequest): string {
  const headers = request.headers;
  return JSON.stringify([
    path,
    request.socket.remoteAddress ?? '',
    headers['user-agent'] ?? '',
    headers.cookie ?? '',
    protocol.authToken ?? '',
  ]);
}

/**
 * atmosphere.js 5 resolves an SSE or streaming subscription when the response opens, before the handshake
 * (its tracking id) has been read, so a message sent at once (a room join) is posted with tracking id `0`.
 * Such a post goes to the stream that got its handshake last from the same client: same path, remote
 * address, user agent, cookie and auth token, within {@link EARLY_POST_WINDOW_MS} of its handshake
 * and before the client posted with its own id. Of several such streams (tabs of one browser), the one no
 * early post went to yet, when there is exactly one. Otherwise (two tabs opening at the same moment) the post
 * is refused as before (404). A post can only reach a stream of the same browser, cookie and auth token.
 */
export class EarlyPosts {
  readonly #pending = new Map<string, Pending>();

  /** A stream (SSE, streaming) just got its first handshake. */
  opened(resource: ServedResource, request: IncomingMessage, protocol: ProtocolRequest): void {
    this.#prune(Date.now());
    if (this.#pending.size >= MAX_PENDING) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.set(resource.id, {
      resource,
      at: Date.now(),
      bound: false,
      fingerprint: fingerprint(resource.path, request, protocol),
    });
  }

  /** The client posted with its own id: it knows it, so posts with `0` are no longer its own. */
  claimed(trackingId: string): void {
    if (this.#pending.size > 0) this.#pending.delete(trackingId);
  }

  /** The stream a post with tracking id `0` belongs to, when exactly one matches. */
  find(request: IncomingMessage, protocol: ProtocolRequest): ServedResource | undefined {
    if (this.#pending.size === 0 || protocol.param(AtmosphereHeaders.trackingId) !== '0') return undefined;
    this.#prune(Date.now());
    const wanted = fingerprint(protocol.path, request, protocol);
    let only: Pending | undefined;
    let matches = 0;
    let unbound: Pending | undefined;
    let unboundMatches = 0;
    for (const pending of this.#pending.values()) {
      if (pending.fingerprint !== wanted || pending.resource.state === 'closed') continue;
      matches++;
      only = pending;
      if (!pending.bound) {
        unboundMatches++;
        unbound = pending;
      }
    }
    // One stream: its own. Several: the one no early post went to yet (a second tab opened after the first
    // one's early posts), when there is exactly one.
    const chosen = matches === 1 ? only : unboundMatches === 1 ? unbound : undefined;
    if (chosen === undefined) return undefined;
    chosen.bound = true;
    return chosen.resource;
  }

  #prune(now: number): void {
    for (const [id, pending] of this.#pending) {
      if (now - pending.at <= EARLY_POST_WINDOW_MS && pending.resource.state !== 'closed') break;
      this.#pending.delete(id);
    }
  }
}
