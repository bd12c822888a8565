import type { AiRole } from '@atmosphere/protocol';
import type { AtmosphereResource, Broadcaster, Logger } from '@atmosphere/runtime';
import { AudienceSink } from '../streaming/frame-sink.ts';

/** A connection of this node following a run another node produces: its role there, and where it stands. */
export interface Follower {
  readonly resource: AtmosphereResource;
  readonly role: AiRole;
  /** The seq of the last frame it has (its `X-Atmosphere-Last-Seq`, then what it was written). */
  sent: number;
  /** It is in its path's audience: every frame read from now on reaches it in one broadcast with the others. */
  inStep: boolean;
}

/**
 * @internal A run another node produces, as this node follows it for all of its connections at once: one read
 * of the shared log per poll, whatever their number, the frames read fanned out to each of them. `frames` holds
 * the run from seq 1 (frame seq n at index n - 1), so that a connection that joins late catches up from its own
 * cursor without another read. Connections that have every frame read so far get the next ones through one
 * audience per endpoint path (one broadcast, one serialisation); one that said it has more than the log had
 * yet is written the frames past its cursor alone until the others reach it.
 */
export class FollowedRun {
  readonly runId: string;
  readonly followers = new Map<string, Follower>();
  /** Every frame of the run read so far, from seq 1. */
  readonly frames: string[] = [];
  terminal = false;
  /** The run was read once: its owner is known (or known to be unknown) and `frames` holds its start. */
  loaded = false;
  /** The run's owner as the log records it (see `StoredRun.owner`). */
  owner: string | null | undefined;
  /** Connections waiting for the first read (they joined before it answered), with the seq they have. */
  readonly waiting = new Map<string, { readonly resource: AtmosphereResource; readonly from: number }>();
  readonly #audiences = new Map<string, AudienceSink>();
  readonly #broadcasterOf: (path: string) => () => Broadcaster | undefined;
  readonly #logger: Logger;

  constructor(runId: string, broadcasterOf: (path: string) => () => Broadcaster | undefined, logger: Logger) {
    this.runId = runId;
    this.#broadcasterOf = broadcasterOf;
    this.#logger = logger;
  }

  /** Nobody follows it here any more (every connection closed or left). */
  get deserted(): boolean {
    return this.followers.size === 0 && this.waiting.size === 0;
  }

  /**
   * A connection starts following with `role`, having the frames up to seq `from`: it is told its role, then
   * written what it misses of the frames read so far, and joins the others — in one synchronous step, so that
   * no frame read meanwhile falls between.
   */
  join(resource: AtmosphereResource, from: number, role: AiRole, roleMessage: string): Follower {
    this.leave(resource.id);
    const follower: Follower = { resource, role, sent: from, inStep: false };
    this.followers.set(resource.id, follower);
    const audience = this.#audienceOf(resource.path);
    audience.writeTo(resource, roleMessage);
    this.#catchUp(follower, audience);
    return follower;
  }

  /** Forgets a connection (closed, or following again in a newer step). */
  leave(resourceId: string): void {
    const follower = this.followers.get(resourceId);
    if (follower === undefined) return;
    this.followers.delete(resourceId);
    if (follower.inStep) this.#audiences.get(follower.resource.path)?.remove(resourceId);
  }

  /** Forgets the connections that closed; true when some remain. */
  prune(): boolean {
    for (const [id, follower] of this.followers) if (follower.resource.state === 'closed') this.leave(id);
    for (const [id, { resource }] of this.waiting) if (resource.state === 'closed') this.waiting.delete(id);
    return !this.deserted;
  }

  /** Frames read from the log after the last one read: kept, and written to every follower, in order. */
  add(frames: readonly string[], terminal: boolean): void {
    for (const frame of frames) this.frames.push(frame);
    this.terminal = terminal;
    if (frames.length === 0) return;
    for (const audience of this.#audiences.values()) for (const frame of frames) audience.write(frame);
    for (const follower of this.followers.values()) {
      if (follower.inStep) follower.sent = this.frames.length;
      else this.#catchUp(follower, this.#audienceOf(follower.resource.path));
    }
  }

  /** Writes a follower the frames past its cursor; once it has every frame read, it joins its audience. */
  #catchUp(follower: Follower, audience: AudienceSink): void {
    for (let index = follower.sent; index < this.frames.length; index++)
      audience.writeTo(follower.resource, this.frames[index]!);
    if (follower.sent <= this.frames.length) {
      follower.sent = this.frames.length;
      follower.inStep = true;
      audience.add(follower.resource);
    }
  }

  #audienceOf(path: string): AudienceSink {
    let audience = this.#audiences.get(path);
    if (audience === undefined)
      this.#audiences.set(path, (audience = new AudienceSink(this.#broadcasterOf(path), this.#logger)));
    return audience;
  }
}
