import { PADDING_CHAR, parseUntrustedJson, ProtocolError } from '@atmosphere/protocol';
import { AtmosphereError, toError } from '../errors.ts';
import { runInbound } from '../interceptors/chain.ts';
import type { ManagedContext } from '../managed.ts';
import type { AtmosphereInterceptor, InboundPayload } from '../spi/interceptor.ts';
import type { Logger } from '../spi/logger.ts';
import type { RuntimeTelemetry } from '../telemetry/runtime-telemetry.ts';
import type { PathTable } from './path-template.ts';
import type { ManagedServiceImpl, Route, ServedResource } from './served-resource.ts';
import type { InFlight } from '../util/in-flight.ts';

/** What inbound handling needs from the server. */
export interface InboundHost {
  readonly logger: Logger;
  readonly telemetry: RuntimeTelemetry;
  readonly interceptors: readonly AtmosphereInterceptor[];
  readonly routes: PathTable<ManagedServiceImpl>;
  /** Work the shutdown waits for (handlers still running). */
  readonly work: InFlight;
  afterConnect(resource: ServedResource, route: Route, isNew: boolean): void;
  context(resource: ServedResource, service: ManagedServiceImpl): ManagedContext;
  runHandler(resource: ServedResource, hook: string, call: () => unknown): void;
}

/** An error for the client and the handler's `onError`: a thrown error becomes `HANDLER_FAILED` (500). */
export function handlerFailed(error: unknown): AtmosphereError {
  if (AtmosphereError.isInstance(error)) return error;
  return new AtmosphereError('HANDLER_FAILED', `The handler threw: ${toError(error).message}`, {
    status: 500,
    cause: error,
  });
}

/**
 * Messages from clients: one at a time per client, in arrival order, through the inbound interceptors and
 * the codec to `onMessage`. Also the first-message authentication and the client heartbeat.
 */
export class Inbound {
  readonly #host: InboundHost;

  constructor(host: InboundHost) {
    this.#host = host;
  }

  /** A WebSocket message: handled in order; failures go to the handler or the client. */
  receive(resource: ServedResource, message: InboundPayload): void {
    this.queued(resource, message).catch((error: unknown) => this.failed(resource, error));
  }

  /** Handles a message after the ones before it; resolves once `onMessage` has been called. */
  queued(resource: ServedResource, message: InboundPayload): Promise<void> {
    const previous = resource.inboundTail;
    if (previous === undefined) {
      let result: void | Promise<void>;
      try {
        result = this.#handle(resource, message);
      } catch (error) {
        return Promise.reject(toError(error));
      }
      if (result === undefined) return Promise.resolve();
      return this.#track(resource, result);
    }
    return this.#track(
      resource,
      previous.then(() => this.#handle(resource, message)),
    );
  }

  #track(resource: ServedResource, work: Promise<void>): Promise<void> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    resource.inboundTail = settled;
    const running = this.#host.work;
    running.enter();
    void settled.then(() => {
      running.leave();
      if (resource.inboundTail === settled) resource.inboundTail = undefined;
    });
    return work;
  }

  #handle(resource: ServedResource, message: InboundPayload): void | Promise<void> {
    if (resource.state === 'closed') return;
    resource.lastInboundAt = Date.now();
    const service = resource.service;
    const authenticate = resource.pendingAuth;
    if (authenticate) return this.#authenticateFirst(resource, authenticate, message);
    if (message === PADDING_CHAR) {
      // The client's heartbeat: never reaches the handler.
      const handler = service.hooks;
      if (handler.onHeartbeat)
        this.#host.runHandler(resource, 'onHeartbeat', () => handler.onHeartbeat?.(resource));
      return;
    }
    let target = service;
    let payload = message;
    if (typeof payload === 'string' && payload.startsWith('@@/')) {
      // `@@/sub/path@@message` addresses another managed path.
      const end = payload.indexOf('@@', 3);
      if (end !== -1) {
        const subPath = payload.slice(2, end);
        payload = payload.slice(end + 2);
        const route = this.#host.routes.match(subPath);
        if (!route)
          throw new AtmosphereError('NOT_FOUND', `No managed path matches ${subPath}.`, { status: 404 });
        target = route.value;
      }
    }
    const intercepted = runInbound(this.#host.interceptors, payload, resource);
    if (intercepted instanceof Promise) {
      return intercepted.then((value) =>
        value === undefined ? undefined : this.#dispatch(resource, target, value),
      );
    }
    if (intercepted === undefined) return;
    return this.#dispatch(resource, target, intercepted);
  }

  async #authenticateFirst(
    resource: ServedResource,
    authenticate: (token: string) => Promise<unknown>,
    message: InboundPayload,
  ): Promise<void> {
    resource.pendingAuth = undefined;
    const token = typeof message === 'string' ? message : Buffer.from(message).toString('utf8');
    try {
      resource.principal = await authenticate(token);
    } catch (error) {
      this.#host.logger.info(`resource ${resource.id}: first-message authentication refused`);
      resource.expire('server-closed', 4401, 'Unauthorized');
      throw error;
    }
    this.#host.afterConnect(resource, { service: resource.service, params: { ...resource.params } }, true);
    resource.flush();
  }

  #dispatch(resource: ServedResource, service: ManagedServiceImpl, payload: InboundPayload): void {
    const handler = service.hooks;
    if (!handler.onMessage) return;
    let decoded: unknown = payload;
    if (service.options.codec === 'json') {
      const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
      decoded = parseJson(text, service.options.maxJsonDepth);
    }
    const context = this.#host.context(resource, service);
    if (this.#host.telemetry.tracingOn) {
      this.#tracedDispatch(resource, handler, decoded, context);
      return;
    }
    let result: unknown;
    try {
      result = handler.onMessage(decoded, resource, context);
    } catch (error) {
      throw handlerFailed(error);
    }
    this.#handled(resource, result, context);
  }

  /** `onMessage` inside an inbound-message span: what it starts (an AI run, broadcasts) are its children. */
  #tracedDispatch(
    resource: ServedResource,
    handler: ManagedServiceImpl['hooks'],
    decoded: unknown,
    context: ManagedContext,
  ): void {
    const tracing = this.#host.telemetry.tracing;
    const span = tracing.startSpan('atmosphere.message', {
      'atmosphere.resource.uuid': resource.id,
      'atmosphere.transport': resource.transport,
      'atmosphere.action': 'message',
      'atmosphere.broadcaster': resource.path,
    });
    let result: unknown;
    try {
      result = tracing.within(span, () => handler.onMessage?.(decoded, resource, context));
    } catch (error) {
      span.recordError(error);
      span.end();
      throw handlerFailed(error);
    }
    if (result instanceof Promise) {
      void result.then(
        () => span.end(),
        (error: unknown) => {
          span.recordError(error);
          span.end();
        },
      );
    } else span.end();
    this.#handled(resource, result, context);
  }

  /** What `onMessage` returned: a value (or a promise of one) is broadcast. */
  #handled(resource: ServedResource, result: unknown, context: ManagedContext): void {
    // The next message of this client does not wait for an async handler (it may be the answer the handler
    // waits for, such as a tool approval); handlers still start in arrival order.
    if (result instanceof Promise) {
      this.#background(
        resource,
        result.then(
          (value) => broadcastResult(value, context),
          (error: unknown) => {
            throw handlerFailed(error);
          },
        ),
      );
      return;
    }
    const broadcast = broadcastResult(result, context);
    if (broadcast) this.#background(resource, broadcast);
  }

  /** Work started by a message that the inbound queue does not wait for: tracked for shutdown, errors reported. */
  #background(resource: ServedResource, work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.failed(resource, error));
    this.#host.work.track(tracked);
  }

  /**
   * A message failed: rate limit and size close the client for good (1008, 1009: a violation gets no
   * reconnect grace); other errors go to the handler's `onError`, or, without one, to the client as an
   * error message.
   */
  failed(resource: ServedResource, error: unknown): void {
    const known = AtmosphereError.isInstance(error) ? error : handlerFailed(error);
    if (known.code === 'RATE_LIMITED') {
      this.#host.logger.warn(`resource ${resource.id}: ${known.message}; closing`);
      resource.expire('server-closed', 1008, 'Rate limit exceeded');
      return;
    }
    if (known.code === 'MESSAGE_TOO_LARGE') {
      resource.expire('server-closed', 1009, 'Message too large');
      return;
    }
    if (known.code === 'UNAUTHORIZED') return;
    const handler = resource.service.hooks;
    if (handler.onError) {
      this.#host.runHandler(resource, 'onError', () => handler.onError?.(known, resource));
      return;
    }
    if (known.code === 'HANDLER_FAILED')
      this.#host.logger.error(`resource ${resource.id}: ${known.message}`, { error: known.cause });
    else this.#host.logger.debug(`resource ${resource.id}: message refused: ${known.message}`);
    if (resource.state !== 'closed') {
      resource.write({
        type: 'error',
        code: known.code,
        message: known.code === 'HANDLER_FAILED' ? 'The server failed to handle the message.' : known.message,
      });
    }
  }

  /** A POST failed: the poster gets the HTTP status; the handler hears about it too, as over WebSocket. */
  postFailed(resource: ServedResource, error: unknown): void {
    const handler = resource.service.hooks;
    if (!handler.onError) return;
    const known = AtmosphereError.isInstance(error) ? error : handlerFailed(error);
    this.#host.runHandler(resource, 'onError', () => handler.onError?.(known, resource));
  }
}

function broadcastResult(value: unknown, context: ManagedContext): Promise<void> | undefined {
  if (value === undefined) return undefined;
  return context.broadcast(value);
}

/** The JSON codec: untrusted-JSON rules; a refusal is `INVALID_JSON` (400), with the reason. */
function parseJson(text: string, maxDepth: number): unknown {
  try {
    return parseUntrustedJson(text, maxDepth);
  } catch (error) {
    if (!ProtocolError.isInstance(error)) throw error;
    throw new AtmosphereError('INVALID_JSON', error.message, { status: 400, cause: error });
  }
}
