import type { AtmosphereResource, Broadcaster, BroadcastOptions, Logger } from '@atmosphere/runtime';

/**
 * Where a session's frames go. `write` receives each frame once, already serialised, in order; it must keep
 * that order and must not throw for a client that is away (the runtime queues for it).
 */
export interface FrameSink {
  write(frame: string): void;
}

/**
 * Frames to a set of resources (the asker, plus clients that re-attached with the run id), broadcast through
 * `broadcaster` addressed to them, so the broadcaster's filters, the per-client cache and the clustering
 * backplane apply. Without a broadcaster, frames are written to each resource (queued and cached, no filters).
 */
export class AudienceSink implements FrameSink {
  readonly #broadcaster: () => Broadcaster | undefined;
  readonly #logger: Logger;
  readonly #resources = new Map<string, AtmosphereResource>();
  #targets: string[] = [];
  /**
   * The broadcast options addressing the audience, made when it changes rather than per frame: the resource
   * itself when it is the only one (the broadcaster then delivers to it without looking its id up), else ids.
   */
  #to: BroadcastOptions = { to: [] };
  readonly #failed = (error: unknown): void => {
    this.#logger.error('an AI frame was not delivered (a broadcast filter failed)', { error });
  };

  constructor(broadcaster: () => Broadcaster | undefined, logger: Logger) {
    this.#broadcaster = broadcaster;
    this.#logger = logger;
  }

  /** Tracking ids of the audience. */
  get targets(): readonly string[] {
    return this.#targets;
  }

  get size(): number {
    return this.#resources.size;
  }

  has(resource: AtmosphereResource | string): boolean {
    return this.#resources.has(typeof resource === 'string' ? resource : resource.id);
  }

  /** Adds a resource to the audience: frames written from now on reach it too. */
  add(resource: AtmosphereResource): void {
    this.#resources.set(resource.id, resource);
    this.#audienceChanged();
  }

  /** Removes a resource; returns how many remain. */
  remove(resource: AtmosphereResource | string): number {
    if (this.#resources.delete(typeof resource === 'string' ? resource : resource.id))
      this.#audienceChanged();
    return this.#resources.size;
  }

  /** Writes one frame to one member only (a replay for a client that re-attached), on the same ordered path. */
  writeTo(resource: AtmosphereResource, frame: string): void {
    const broadcaster = this.#broadcaster();
    if (broadcaster) broadcaster.broadcast(frame, { to: resource.id }).catch(this.#failed);
    else if (resource.state !== 'closed') resource.write(frame);
  }

  #audienceChanged(): void {
    this.#targets = [...this.#resources.keys()];
    this.#to = { to: this.#resources.size === 1 ? this.#resources.values().next().value! : this.#targets };
  }

  write(frame: string): void {
    if (this.#targets.length === 0) return;
    const broadcaster = this.#broadcaster();
    if (broadcaster) {
      broadcaster.broadcast(frame, this.#to).catch(this.#failed);
      return;
    }
    for (const resource of this.#resources.values()) if (resource.state !== 'closed') resource.write(frame);
  }
}

/** Frames to every subscriber of a broadcaster (a room, a topic). */
export class BroadcasterSink implements FrameSink {
  readonly #broadcaster: Broadcaster;
  readonly #failed: (error: unknown) => void;

  constructor(broadcaster: Broadcaster, logger: Logger) {
    this.#broadcaster = broadcaster;
    this.#failed = (error) => logger.error(`an AI frame was not delivered on ${broadcaster.id}`, { error });
  }

  write(frame: string): void {
    if (this.#broadcaster.destroyed) return;
    this.#broadcaster.broadcast(frame).catch(this.#failed);
  }
}

/** Keeps frames in memory (tests, the contract suite, collecting an answer server-side). */
export class CollectingSink implements FrameSink {
  readonly frames: string[] = [];
  #listener: ((frame: string) => void) | undefined;

  /** Called for every frame after it is stored. */
  onFrame(listener: (frame: string) => void): void {
    this.#listener = listener;
  }

  write(frame: string): void {
    this.frames.push(frame);
    this.#listener?.(frame);
  }
}
