/** The client implementations; each speaks to the matching server. */
export type ClientImpl =
  | 'atmosphere-ws'
  | 'atmosphere-sse'
  | 'atmosphere-long-polling'
  | 'ws'
  | 'raw-sse'
  | 'raw-long-polling'
  | 'socketio-ws'
  | 'socketio-polling';

/** Where and how a client connects. */
export interface ConnectTarget {
  /** `http://127.0.0.1:<port>` of the server. */
  origin: string;
  /** Source address for the TCP connection (`127.0.0.x`), to go past one address's ephemeral ports. */
  localAddress?: string | undefined;
  /** Reconnect as this client (tracking id, or a count of messages received for the raw peers). */
  resume?: ResumeToken | undefined;
  /**
   * Atmosphere: ask for a session (`X-Atmosphere-Session-Token=0`, as `@atmosphere/client` does) and count the
   * connection open once its session frame has arrived.
   */
  session?: boolean | undefined;
}

/** What a client needs to come back as itself after a cut. */
export interface ResumeToken {
  /** Atmosphere tracking id. */
  trackingId?: string;
  /** Messages received so far (Atmosphere `X-Atmosphere-Received`; raw ws `?since=`). */
  received: number;
}

/** An open client connection. */
export interface ClientConnection {
  /** Leaves deliberately (close frame / close request). */
  close(): void;
  /** Drops the connection abruptly, as a cut network would. */
  cut(): void;
  /** How to come back as the same client (Atmosphere: the tracking id from the handshake). */
  resumeToken(received: number): ResumeToken;
  /** Socket.IO: reconnects the same socket object (so its connection state recovery applies). */
  reconnect?(): Promise<void>;
  /** Socket.IO: whether the last reconnection recovered the session. */
  recovered?(): boolean;
}

/** Receives each application message (framing, heartbeats and protocol noise already removed). */
export type MessageSink = (text: string) => void;

/**
 * Opens one client connection; resolves once it is connected (after Atmosphere's handshake, after
 * Socket.IO's `connect`), rejects on refusal. `onClose` is called once if the connection ends afterwards
 * without `close()`/`cut()` having been called.
 */
export type Connector = (
  target: ConnectTarget,
  sink: MessageSink,
  onClose: () => void,
) => Promise<ClientConnection>;
