import { randomUUID } from 'node:crypto';
import {
  type Atmosphere,
  AtmosphereError,
  type AtmosphereResource,
  type DisconnectReason,
  type Logger,
  type ManagedServiceRegistration,
} from '@atmosphere/runtime';
import type { RoomAuthorizer } from './authorizer.ts';
import { type CommandLimits, isRoomName, ROOM_NAME_RULE } from '@atmosphere/protocol';
import { Room, type RoomHost } from './room.ts';
import { RoomProtocol } from './room-protocol.ts';
import { RoomsCluster } from './room-cluster.ts';
import { RoomSessions } from './room-sessions.ts';
import { DEFAULT_MAX_REPLAY } from './room-delivery.ts';

/** Options of a {@link RoomManager}. */
export interface RoomsOptions {
  /** Serve the room protocol on this path (e.g. `/rooms`); more paths with `mount()`. Default: none. */
  path?: string;
  /** Decides every client `join`, `leave`, `broadcast`, `direct` and `typing`. Default: everything allowed. */
  authorize?: RoomAuthorizer;
  /**
   * May a client's `join` create a room that does not exist? Default true; such a room is destroyed when its
   * last member leaves. With false, clients join only rooms the server made (`rooms.room(name)`).
   */
  autoCreate?: boolean;
  /** History capacity of every new room (0 = off; `room.enableHistory()` per room). Default 0. */
  history?: number;
  /**
   * The most messages a `join` with `sinceId` is replayed: the newest ones after `sinceId` (what memory keeps,
   * then older ones read back from a durable log — the room's other operations wait for that read, so this
   * bounds how long one join can hold a room up). A joiner that asked for more first gets an `error` frame with
   * code `HISTORY_TRUNCATED` naming the ids left out (`from`, `resumeAt`). Default 500 (half the runtime's
   * bound of messages pending per client); 0 replays nothing.
   */
  maxReplay?: number;
  /**
   * How long a member whose connection was cut stays in its rooms before the others get its `presence` leave.
   * Default: the runtime's grace (`reconnectGraceMs` of `createAtmosphere`), i.e. the member leaves when its
   * resource disconnects for good. A shorter value announces the leave sooner; the connection, if it comes
   * back later (within the runtime's grace), receives a `presence` leave about itself and may join again with
   * `sinceId`. A longer value has no effect: the runtime's grace ends the connection first.
   */
  reconnectGraceMs?: number;
  /** Longest client frame, in characters. Default 65 536 (the runtime's `maxMessageBytes` applies first). */
  maxMessageLength?: number;
  /** Longest member metadata, in characters of JSON. Default 4 096. */
  maxMetadataLength?: number;
  /** Deepest JSON nesting in a client frame. Default 32. */
  maxJsonDepth?: number;
  /** Rooms one connection may be in at once. Default 100. */
  maxRoomsPerConnection?: number;
  /** Default: the Atmosphere instance's logger. */
  logger?: Logger;
}

interface Tracked {
  readonly rooms: Set<Room>;
  readonly onDisconnect: (reason: DisconnectReason) => void;
}

const managers = new WeakMap<Atmosphere, RoomManager>();

function positiveInteger(options: RoomsOptions, key: keyof RoomsOptions, fallback: number, min = 1): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `Rooms option \`${key}\` must be an integer >= ${min}; got ${typeof value === 'number' ? value : typeof value}.`,
    );
  }
  return value;
}

/**
 * The rooms of one Atmosphere instance: creates, finds and destroys rooms, serves the room protocol on the
 * paths it mounts, and turns connections that disconnect (or stay away past the grace period) into presence
 * leaves. Create it with {@link createRooms}, or get the instance's one with {@link RoomManager.for}.
 */
export class RoomManager {
  /** The instance's manager, created (with default options, no path) on first use. */
  static for(atmosphere: Atmosphere): RoomManager {
    return managers.get(atmosphere) ?? createRooms(atmosphere);
  }

  readonly atmosphere: Atmosphere;
  readonly logger: Logger;
  readonly #rooms = new Map<string, Room>();
  readonly #tracked = new Map<AtmosphereResource, Tracked>();
  /** Connections that speak the atmosphere.js 5 dialect (learned from their first join). */
  readonly #atmosphereJs = new WeakSet<AtmosphereResource>();
  readonly #services: ManagedServiceRegistration[] = [];
  readonly #host: RoomHost;
  readonly #protocol: RoomProtocol;
  readonly #autoCreate: boolean;
  readonly #history: number;
  readonly #maxReplay: number;
  readonly #cluster: RoomsCluster | undefined;
  readonly #sessions: RoomSessions;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  /** @internal Use {@link createRooms} or {@link RoomManager.for}. */
  constructor(atmosphere: Atmosphere, options: RoomsOptions = {}) {
    this.atmosphere = atmosphere;
    this.logger = options.logger ?? atmosphere.logger;
    this.#autoCreate = options.autoCreate ?? true;
    this.#history = positiveInteger(options, 'history', 0, 0);
    this.#maxReplay = positiveInteger(options, 'maxReplay', DEFAULT_MAX_REPLAY, 0);
    const limits: CommandLimits = {
      maxMessageLength: positiveInteger(options, 'maxMessageLength', 65_536),
      maxMetadataLength: positiveInteger(options, 'maxMetadataLength', 4_096),
      maxJsonDepth: positiveInteger(options, 'maxJsonDepth', 32),
    };
    const maxRoomsPerConnection = positiveInteger(options, 'maxRoomsPerConnection', 100);
    if (options.authorize !== undefined && typeof options.authorize !== 'function') {
      throw new AtmosphereError(
        'INVALID_OPTION',
        'Rooms option `authorize` must be a function (request) => boolean | Promise<boolean>.',
      );
    }
    this.#cluster = RoomsCluster.of(atmosphere);
    this.#sessions = new RoomSessions(atmosphere, this.logger);
    this.#host = {
      atmosphere,
      cluster: this.#cluster,
      logger: this.logger,
      broadcasters: atmosphere.broadcasters,
      historyLog: atmosphere.log.durable ? atmosphere.log : undefined,
      nodeTag: atmosphere.log.shared ? (this.#cluster?.state.nodeId ?? randomUUID()) : undefined,
      connectionJoined: (resource, room, member) => {
        this.#track(resource, room);
        this.#sessions.joined(resource, room.name, member);
      },
      connectionLeft: (resource, room, reason) => {
        this.#untrack(resource, room);
        if (reason === 'left' || reason === 'removed') this.#sessions.left(resource, room.name);
      },
      speaksAtmosphereJs: (resource) => this.#atmosphereJs.has(resource),
      roomDestroyed: (room) => {
        if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name);
      },
    };
    this.#observe();
    this.#protocol = new RoomProtocol({
      logger: this.logger,
      limits,
      maxRoomsPerConnection,
      authorize: options.authorize,
      find: (name) => this.#rooms.get(name),
      open: (name) => this.#rooms.get(name) ?? (this.#autoCreate ? this.#create(name, false) : undefined),
      roomCount: (resource) => this.#tracked.get(resource)?.rooms.size ?? 0,
      memberships: (resource) => this.#sessions.memberships(resource),
      forget: (resource, room) => this.#sessions.left(resource, room),
      speaksAtmosphereJs: (resource) => {
        this.#atmosphereJs.add(resource);
      },
    });
    if (options.reconnectGraceMs !== undefined) {
      const grace = positiveInteger(options, 'reconnectGraceMs', 0);
      this.#sweeper = setInterval(
        () => this.#sweep(grace),
        Math.max(10, Math.min(1000, Math.floor(grace / 4))),
      );
      this.#sweeper.unref();
    }
  }

  /**
   * The room with this name, created (empty, with the default history) when absent. A room got here is
   * persistent: it lives until `destroy()`, even empty. Throws `BAD_REQUEST` for an invalid name
   * (`[A-Za-z0-9_.:-]{1,128}`), `CLOSED` after `close()`.
   */
  room(name: string): Room {
    this.#assertOpen();
    if (!isRoomName(name))
      throw new AtmosphereError(
        'BAD_REQUEST',
        `Invalid room name ${JSON.stringify(name)}: ${ROOM_NAME_RULE}.`,
      );
    const existing = this.#rooms.get(name);
    if (existing !== undefined) {
      existing.makePersistent();
      return existing;
    }
    return this.#create(name, true);
  }

  /** The room with this name, if it exists (never creates one). */
  find(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  exists(name: string): boolean {
    return this.#rooms.has(name);
  }

  /** Every room. */
  all(): Room[] {
    return [...this.#rooms.values()];
  }

  /** Number of rooms. */
  get count(): number {
    return this.#rooms.size;
  }

  /** Destroys a room (see `Room.destroy()`). Returns false when there is no such room. */
  destroy(name: string): boolean {
    const room = this.#rooms.get(name);
    if (room === undefined) return false;
    room.destroy();
    return true;
  }

  /** The rooms a connection is in. */
  roomsOf(resource: AtmosphereResource): Room[] {
    return [...(this.#tracked.get(resource)?.rooms ?? [])];
  }

  /**
   * Serves the room protocol (PROTOCOL.md §8) on `path`: clients connect there with any transport and send
   * JSON frames; one connection may join several rooms. Returns the registration (`remove()` unmounts).
   */
  mount(path: string): ManagedServiceRegistration {
    this.#assertOpen();
    const service = this.atmosphere.managed(path, this.#protocol.handler(), {
      codec: 'text',
      subscribe: false,
    });
    this.#services.push(service);
    return service;
  }

  /**
   * Unmounts the paths, destroys every room and stops watching connections (they stay open). The manager
   * cannot be used afterwards; `RoomManager.for()` then makes a new one. Idempotent.
   */
  /** The rooms' gauges on the selected `metrics` provider, read at scrape time (no per-room label). */
  #observe(): void {
    const metrics = this.atmosphere.provider('metrics');
    if (metrics === undefined || !metrics.enabled) return;
    metrics.gauge({
      name: 'atmosphere_rooms_active',
      help: 'Rooms on this node.',
      collect: (set) => set(this.#rooms.size),
    });
    metrics.gauge({
      name: 'atmosphere_room_members',
      help: 'Members of the rooms on this node (virtual members included; a member of two rooms counts twice).',
      collect: (set) => {
        let members = 0;
        for (const room of this.#rooms.values()) members += room.size;
        set(members);
      },
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    for (const service of this.#services) service.remove();
    for (const room of [...this.#rooms.values()]) room.destroy();
    this.#cluster?.stop();
    for (const [resource, tracked] of this.#tracked) resource.off('disconnect', tracked.onDisconnect);
    this.#tracked.clear();
    if (managers.get(this.atmosphere) === this) managers.delete(this.atmosphere);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #create(name: string, persistent: boolean): Room {
    const room = new Room(name, this.#host, {
      persistent,
      history: this.#history,
      maxReplay: this.#maxReplay,
    });
    this.#rooms.set(name, room);
    return room;
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new AtmosphereError(
        'CLOSED',
        'This RoomManager was closed; get a new one with RoomManager.for(atmosphere).',
      );
  }

  #track(resource: AtmosphereResource, room: Room): void {
    let tracked = this.#tracked.get(resource);
    if (tracked === undefined) {
      const onDisconnect = (reason: DisconnectReason): void => this.#disconnected(resource, reason);
      tracked = { rooms: new Set(), onDisconnect };
      this.#tracked.set(resource, tracked);
      resource.on('disconnect', onDisconnect);
    }
    tracked.rooms.add(room);
  }

  #untrack(resource: AtmosphereResource, room: Room): void {
    const tracked = this.#tracked.get(resource);
    if (tracked === undefined) return;
    tracked.rooms.delete(room);
    if (tracked.rooms.size > 0) return;
    this.#tracked.delete(resource);
    resource.off('disconnect', tracked.onDisconnect);
  }

  /** The resource is gone for good: it leaves every room it was in. Away and reconnect change nothing. */
  #disconnected(resource: AtmosphereResource, reason: DisconnectReason): void {
    const tracked = this.#tracked.get(resource);
    if (tracked === undefined) return;
    const leave = reason === 'timeout' ? 'timeout' : 'disconnected';
    for (const room of [...tracked.rooms]) room.removeConnection(resource, leave, false);
    this.#tracked.delete(resource);
  }

  /** With a rooms grace shorter than the runtime's: members away longer than it leave their rooms. */
  #sweep(grace: number): void {
    const now = Date.now();
    for (const [resource, tracked] of this.#tracked) {
      if (resource.state !== 'away' || resource.awaySince === 0 || now - resource.awaySince < grace) continue;
      this.logger.debug(`rooms: ${resource.id} away for ${now - resource.awaySince} ms; leaving its rooms`);
      for (const room of [...tracked.rooms]) room.removeConnection(resource, 'timeout', true);
    }
  }
}

/**
 * Creates the room manager of an Atmosphere instance and, with `options.path`, serves the room protocol there:
 * `const rooms = createRooms(atmosphere, { path: '/rooms', authorize })`. Throws `INVALID_OPTION` for a bad
 * option or when the instance already has a manager (get that one with `RoomManager.for(atmosphere)`).
 */
export function createRooms(atmosphere: Atmosphere, options: RoomsOptions = {}): RoomManager {
  if (managers.has(atmosphere)) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      'This Atmosphere instance already has a RoomManager; get it with RoomManager.for(atmosphere) and mount more paths with rooms.mount(path).',
    );
  }
  const manager = new RoomManager(atmosphere, options);
  managers.set(atmosphere, manager);
  if (options.path !== undefined) manager.mount(options.path);
  return manager;
}
