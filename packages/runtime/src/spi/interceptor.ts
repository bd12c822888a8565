import type { IncomingMessage } from 'node:http';
import type { OutboundMessage } from './message.ts';
import type { ProtocolRequest } from './request.ts';
import type { AtmosphereResource, ConnectionSettings, DisconnectReason } from './resource.ts';

/** An inbound message as interceptors see it. */
export type InboundPayload = string | Uint8Array;

/** What interceptors see (and may change) while a client connects. */
export interface ConnectContext {
  readonly request: ProtocolRequest;
  readonly raw: IncomingMessage;
  /** True for a WebSocket upgrade. */
  readonly upgrade: boolean;
  /** True when this tracking id already has a resource here (a reconnect). */
  readonly reconnect: boolean;
  /** The connection's settings; built-in interceptors fill them, later ones may change them. */
  readonly settings: ConnectionSettings;
  /** Set by an auth interceptor: who the client is. Copied to `resource.principal`. */
  principal: unknown;
  /**
   * Set by an auth interceptor that accepts a token in the first WebSocket message: the connection opens,
   * and its first message is passed to this function instead of the handler. Resolve to the principal;
   * reject (or resolve to a falsy value) to close the connection with 4401.
   */
  authenticateFirstMessage: ((token: string) => Promise<unknown>) | undefined;
}

/**
 * A step of the interceptor chain. Inbound hooks run first to last; outbound hooks last to first. Throw an
 * `AtmosphereError` to refuse: its `status` answers an HTTP request; a WebSocket is refused before the
 * upgrade, or closed with the matching close code after it. Contract suite: `interceptorContract` in
 * `@atmosphere/runtime/testing`.
 */
export interface AtmosphereInterceptor {
  readonly name: string;
  /** A client is connecting (before the upgrade or the response). */
  onConnect?(context: ConnectContext): void | Promise<void>;
  /** A message arrived from a client. Return it (changed or not) to go on, `undefined` to drop it. */
  onInbound?(
    message: InboundPayload,
    resource: AtmosphereResource,
  ): InboundPayload | undefined | Promise<InboundPayload | undefined>;
  /**
   * A message is about to be queued for a resource. Return it to go on, a payload to send that instead (it
   * is then serialised for this resource alone), `undefined` to drop it for this resource.
   */
  onOutbound?(
    message: OutboundMessage,
    resource: AtmosphereResource,
  ): OutboundMessage | string | Uint8Array | undefined;
  /** A resource disconnected for good. */
  onDisconnect?(resource: AtmosphereResource, reason: DisconnectReason): void;
}
