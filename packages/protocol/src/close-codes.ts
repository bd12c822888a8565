/**
 * WebSocket close codes as the protocol uses them (PROTOCOL.md §5). A client that leaves for good closes
 * with a code ≤ 1001 or > 1006 (except {@link CloseCodes.comingBack}); 1002–1006 are transient: the client
 * may come back with the same tracking id.
 */
export const CloseCodes = {
  /** A deliberate close. */
  normal: 1000,
  /** The server is shutting down; an idle timeout. */
  goingAway: 1001,
  /** A protocol violation. */
  protocolError: 1002,
  /** No close frame at all: the network dropped (never sent on the wire). */
  abnormal: 1006,
  /** Invalid UTF-8 in a text frame. */
  invalidData: 1007,
  /** A policy violation: the inbound rate limit. */
  policyViolation: 1008,
  /** A message larger than the server accepts. */
  messageTooLarge: 1009,
  /** The server failed. */
  internalError: 1011,
  /** Try again later: the backpressure policy cut a client that does not read. */
  tryAgainLater: 1013,
  /** Ours: a client says it is coming back (a browser may only send 1000 and 3000–4999). */
  comingBack: 4000,
  /** Ours: authentication refused or missing. */
  unauthorized: 4401,
} as const;

/** True for a close code a client sends when it leaves for good: ≤ 1001 or > 1006, but not 4000. */
export function isDeliberateClose(code: number): boolean {
  return (code <= 1001 || code > 1006) && code !== CloseCodes.comingBack;
}
