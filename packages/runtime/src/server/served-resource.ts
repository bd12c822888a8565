import type { ClientQueue } from '../delivery/client-queue.ts';
import { ClientResource, type ResourceHost } from '../delivery/resource.ts';
import type { ManagedHandler, ManagedOptions, ManagedService } from '../managed.ts';
import type { ProtocolRequest } from '../spi/request.ts';
import type { ConnectionSettings } from '../spi/resource.ts';

/** A registered managed path. */
export class ManagedServiceImpl implements ManagedService {
  readonly path: string;
  readonly handler: ManagedHandler<never>;
  readonly options: ManagedService['options'];
  readonly #remove: () => void;

  constructor(path: string, handler: ManagedHandler<never>, options: ManagedOptions, remove: () => void) {
    this.path = path;
    this.handler = handler;
    this.options = {
      codec: options.codec ?? 'json',
      subscribe: options.subscribe ?? true,
      maxJsonDepth: options.maxJsonDepth ?? 64,
      broadcaster: options.broadcaster ?? { destroyWhenEmpty: true },
    };
    this.#remove = remove;
  }

  /** The handler, with the message type the runtime hands it (decoded, unchecked). */
  get hooks(): ManagedHandler {
    return this.handler;
  }

  remove(): void {
    this.#remove();
  }
}

/** A request path resolved to its managed service, with the template's parameters. Shared: never changed. */
export interface Route {
  readonly service: ManagedServiceImpl;
  readonly params: Readonly<Record<string, string>>;
  /** The decoded request path, when the route comes from a request. */
  readonly path?: string;
}

/**
 * A resource as the server keeps it: with its service, and the server's own per-client state in fields
 * (one object per client rather than an entry in a WeakMap per concern).
 */
export class ServedResource extends ClientResource {
  /** The managed path it connected through. */
  readonly service: ManagedServiceImpl;
  /** The inbound message still being handled, when there is one: the next one waits for it. */
  inboundTail: Promise<void> | undefined = undefined;
  /** Set while the first WebSocket message is still expected to carry the auth token. */
  pendingAuth: ((token: string) => Promise<unknown>) | undefined = undefined;

  constructor(
    request: ProtocolRequest,
    route: Route,
    settings: ConnectionSettings,
    queue: ClientQueue,
    host: ResourceHost,
  ) {
    super(request, route.params, settings, queue, host);
    this.service = route.service;
  }
}
