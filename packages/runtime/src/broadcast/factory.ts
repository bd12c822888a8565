import type { Logger } from '../logger.ts';
import type { AtmosphereResource } from '../resource.ts';
import type { BackplaneMessage, BroadcasterBackplane } from './backplane.ts';
import { Broadcaster, type BroadcasterHost, type BroadcasterOptions } from './broadcaster.ts';
import { OutboundMessage } from './message.ts';

/**
 * Creates, finds and destroys broadcasters by id. One per Atmosphere instance (`atmosphere.broadcasters`).
 */
export class BroadcasterFactory {
  readonly #broadcasters = new Map<string, Broadcaster>();
  readonly #host: BroadcasterHost;
  readonly #resource: (id: string) => AtmosphereResource | undefined;

  constructor(
    logger: Logger,
    backplane: BroadcasterBackplane,
    resource: (id: string) => AtmosphereResource | undefined,
  ) {
    this.#resource = resource;
    this.#host = {
      logger,
      backplane,
      resource,
      broadcasterEmpty: (broadcaster) => {
        if (broadcaster.size === 0 && this.#broadcasters.get(broadcaster.id) === broadcaster)
          this.destroy(broadcaster.id);
      },
    };
  }

  /** The broadcaster with this id, created (with `options`) when absent. */
  get(id: string, options?: BroadcasterOptions): Broadcaster {
    let broadcaster = this.#broadcasters.get(id);
    if (!broadcaster) {
      broadcaster = new Broadcaster(id, this.#host, options);
      this.#broadcasters.set(id, broadcaster);
    }
    return broadcaster;
  }

  /** The broadcaster with this id, if it exists. */
  find(id: string): Broadcaster | undefined {
    return this.#broadcasters.get(id);
  }

  all(): Broadcaster[] {
    return [...this.#broadcasters.values()];
  }

  /** Destroys a broadcaster: unsubscribes its resources (they stay open) and forgets it. */
  destroy(id: string): boolean {
    const broadcaster = this.#broadcasters.get(id);
    if (!broadcaster) return false;
    this.#broadcasters.delete(id);
    broadcaster.destroy();
    return true;
  }

  /** @internal A message from another node: deliver it to this node's recipients. */
  deliverRemote(message: BackplaneMessage): void {
    const outbound = new OutboundMessage(message.payload, message.broadcaster);
    const broadcaster = this.#broadcasters.get(message.broadcaster);
    if (broadcaster) {
      broadcaster.deliverLocal(outbound, message.targets, message.exclude);
      return;
    }
    // No local channel: only addressed messages can still have a recipient here.
    if (message.targets) for (const id of message.targets) this.#resource(id)?.deliver(outbound);
  }

  destroyAll(): void {
    for (const id of [...this.#broadcasters.keys()]) this.destroy(id);
  }
}
