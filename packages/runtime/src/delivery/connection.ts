import type { TransportName } from '@atmosphere/protocol';
import type { EncodedMessage } from './encoded-message.ts';

/** Why a transport connection ended. */
export type ConnectionEnd =
  /**
   * The client closed deliberately: the close request, or a WebSocket close frame with any code but 4000 —
   * 1002 and 1003 included (`isDeliberateClose`, docs/protocol.md).
   */
  | 'client-closed'
  /**
   * The connection dropped (network cut: no close frame, 1006; a close frame without a code, 1005; 4000,
   * coming back; an HTTP stream aborted): the client may come back.
   */
  | 'lost'
  /** A long-poll or poll response completed normally; the client polls again. */
  | 'completed'
  /** The server ended it (shutdown, policy, replaced by a newer connection for the same tracking id). */
  | 'server-closed'
  /**
   * The client broke the protocol (a malformed WebSocket frame: 1002, 1007, 1009): the server ended the
   * connection, and the resource ends with it — no grace period for a client that sends garbage.
   */
  | 'violated';

/**
 * What a connection reports to: the resource it serves. One reference per connection instead of a callback
 * each, so an idle connection holds no closures of its own.
 */
export interface ConnectionOwner {
  /** The connection can take writes again, after `writable` answered false. */
  connectionDrained(connection: Connection): void;
  /** The connection has ended, with why. Called once. */
  connectionEnded(connection: Connection, how: ConnectionEnd): void;
  /** A message arrived on the connection (WebSocket: text or binary frame). */
  connectionMessage(connection: Connection, message: string | Uint8Array): void;
  /** The client confirmed it received every message up to `seq` (the pong of a delivery probe). */
  connectionConfirmed(connection: Connection, seq: number): void;
}

/**
 * One live transport connection of a resource: a WebSocket, an SSE or streaming response, or one pending
 * long-poll. The resource owns the message queue and the bookkeeping of what was written when; the
 * connection only writes bytes and reports what happens to it, to the owner it is bound to.
 */
export interface Connection {
  readonly transport: TransportName;
  /** Length-prefixed framing on text writes (`X-Atmosphere-TrackMessageSize`). */
  readonly framed: boolean;
  /**
   * True when another message can be written now without buffering past the socket's high-water mark.
   * When it answers false, the connection tells its owner (`connectionDrained`) once it can take more.
   */
  readonly writable: boolean;
  /** True when the connection is open. */
  readonly open: boolean;
  /** Bytes the connection has accepted but the socket has not sent yet (its user-space buffer). */
  readonly buffered: number;
  /**
   * Bytes the socket has handed to the operating system so far: while something waits, a count that does not
   * move means the client is not reading (the time-without-progress cut).
   */
  readonly sent: number;
  /** Reports to `owner` from now on; `undefined` detaches it (nothing more is reported). */
  bind(owner: ConnectionOwner | undefined): void;
  /** Writes one message. Only called while `writable`. */
  write(message: EncodedMessage): void;
  /**
   * Gathers the writes that follow, until `endRun`, into as few socket writes as the transport can: a run of
   * messages written back to back (a replay, a queue catching up after a drain). `writable` is still asked
   * between them. Absent where the transport has nothing to gain.
   */
  startRun?(): void;
  /** Sends what the run gathered. */
  endRun?(): void;
  /** Writes the heartbeat (the padding char). */
  heartbeat(): void;
  /**
   * Asks the client to confirm receipt of everything up to `seq` (transports that can: a WebSocket ping whose
   * pong carries it back). Absent where the transport cannot.
   */
  probe?(seq: number): void;
  /**
   * Ends the connection. `code` is a WebSocket close code (HTTP transports answer an SSE error event when
   * the code is an error, then end the response).
   */
  end(code?: number, reason?: string): void;
}
