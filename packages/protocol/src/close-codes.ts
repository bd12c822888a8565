/**
 * WebSocket close codes as the protocol uses them (docs/protocol.md, "Heartbeats, close, idle"). A client
 * that sends a close frame with a code leaves for good — including 1002 and 1003, with which it declares
 * that the connection failed (a protocol error, data it cannot take) — except with
 * {@link CloseCodes.comingBack}. Only 1006 (no close frame: the network dropped) and 4000 are transient: the
 * client may come back with the same tracking id. 1005 (a close frame without a code) is neither: the
 * server waits a few seconds for the client to come back.
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

/**
 * What a close without a code reports (1005): never sent on the wire, and kept out of {@link CloseCodes} so
 * that browser bundles, which take the whole object, do not carry codes only a server reads.
 */
const NO_CODE = 1005;

/**
 * True for a close code with which a client leaves for good: any code its close frame carried but 4000
 * (coming back). False for 1005 (a close frame without a code), 1006 (no close frame) and 4000. 1004 never
 * arrives in a valid close frame.
 */
export function isDeliberateClose(code: number): boolean {
  return code !== NO_CODE && code !== CloseCodes.abnormal && code !== CloseCodes.comingBack;
}
