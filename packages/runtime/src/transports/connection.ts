import type { OutboundMessage } from '../broadcast/message.ts';
import type { ConnectionTransport } from '../protocol/constants.ts';

/** Why a transport connection ended. */
export type ConnectionEnd =
  /** The client closed deliberately: the close request, or a WebSocket close code ≤ 1001 or > 1005 sent by it. */
  | 'client-closed'
  /** The connection dropped (network cut, 1002–1006, an HTTP stream aborted): the client may come back. */
  | 'lost'
  /** A long-poll or poll response completed normally; the client polls again. */
  | 'completed'
  /** The server ended it (shutdown, policy, replaced by a newer connection for the same tracking id). */
  | 'server-closed';

/**
 * One live transport connection of a resource: a WebSocket, an SSE or streaming response, or one pending
 * long-poll. The resource owns the message queue; the connection only writes bytes.
 */
export interface Connection {
  readonly transport: ConnectionTransport;
  /** Length-prefixed framing on text writes (`X-Atmosphere-TrackMessageSize`). */
  readonly framed: boolean;
  /** True when another message can be written now without buffering past the socket's high-water mark. */
  readonly writable: boolean;
  /** True when the connection is open. */
  readonly open: boolean;
  /** Set on every write; the heartbeat sweeper clears it. */
  wroteSinceCheck: boolean;
  /** Writes one message. Only called while `writable`. */
  write(message: OutboundMessage): void;
  /** Writes the heartbeat (the padding char). */
  heartbeat(): void;
  /**
   * Ends the connection. `code` is a WebSocket close code (HTTP transports answer an SSE error event when
   * the code is an error, then end the response).
   */
  end(code?: number, reason?: string): void;
  /** Called once when the socket can take writes again. */
  onDrain: (() => void) | undefined;
  /** Called once when the connection has ended, with why. */
  onEnd: ((how: ConnectionEnd) => void) | undefined;
}
