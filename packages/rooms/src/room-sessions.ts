import { isMemberId, isRoomName } from '@atmosphere/protocol';
import { type Atmosphere, AtmosphereError, type AtmosphereResource, type Logger } from '@atmosphere/runtime';
import type { SessionStore } from '@atmosphere/runtime/spi';
import type { RoomMember, RoomMetadata } from './types.ts';

/** A membership a session holds: the room, and the member the connection was in it. */
export interface SessionMembership {
  readonly room: string;
  readonly member: RoomMember;
}

/**
 * How a membership is kept in a session's `rooms` (DURABILITY.md §5): the room name, a space, and the member as
 * JSON (`lobby {"id":"alice","metadata":{…}}`). Room names never hold a space; a bare name (written by other
 * code) restores as the connection's own tracking id.
 */
export function encodeMembership(room: string, member: RoomMember): string {
  const metadata = Object.keys(member.metadata).length === 0 ? undefined : member.metadata;
  return `${room} ${JSON.stringify(metadata === undefined ? { id: member.id } : { id: member.id, metadata })}`;
}

/** The membership a session entry names, or undefined for one that is not (a name that is not a room's). */
export function decodeMembership(entry: string, fallbackId: string): SessionMembership | undefined {
  const space = entry.indexOf(' ');
  const room = space === -1 ? entry : entry.slice(0, space);
  if (!isRoomName(room)) return undefined;
  if (space === -1) return { room, member: { id: fallbackId, metadata: {} } };
  try {
    const parsed = JSON.parse(entry.slice(space + 1)) as { id?: unknown; metadata?: unknown };
    if (typeof parsed.id !== 'string' || !isMemberId(parsed.id)) return undefined;
    const metadata =
      typeof parsed.metadata === 'object' && parsed.metadata !== null && !Array.isArray(parsed.metadata)
        ? (parsed.metadata as RoomMetadata)
        : {};
    return { room, member: { id: parsed.id, metadata } };
  } catch {
    return undefined;
  }
}

function roomOf(entry: string): string {
  const space = entry.indexOf(' ');
  return space === -1 ? entry : entry.slice(0, space);
}

type Awaitable<T> = T | Promise<T>;

/**
 * @internal Keeps each session's room memberships in the `session-store`, so that a connection that comes back
 * with its token — after a restart, to another node — is put back in its rooms by the server. A join records the
 * membership; a leave the client asked for (or a removal by the server) forgets it; a connection that is cut,
 * closed or timed out keeps it (it is what the client gets back). Writes of one session run one at a time, in
 * order; a write that fails is logged (the membership then is not restored), never thrown at the room.
 */
export class RoomSessions {
  readonly #atmosphere: Atmosphere;
  readonly #logger: Logger;
  readonly #writes = new Map<string, Promise<void>>();

  constructor(atmosphere: Atmosphere, logger: Logger) {
    this.#atmosphere = atmosphere;
    this.#logger = logger;
  }

  #store(): SessionStore | undefined {
    return this.#atmosphere.provider('session-store');
  }

  /** The session of a connection, when it has one and a store keeps it. */
  #session(resource: AtmosphereResource): { store: SessionStore; token: string } | undefined {
    const token = this.#atmosphere.sessionTokenOf(resource);
    const store = token === undefined ? undefined : this.#store();
    return store === undefined || token === undefined ? undefined : { store, token };
  }

  /** Records that the connection is in `room` as `member`. */
  joined(resource: AtmosphereResource, room: string, member: RoomMember): void {
    const entry = encodeMembership(room, member);
    this.#change(resource, room, (rooms) =>
      rooms.includes(entry) ? undefined : [...rooms.filter((other) => roomOf(other) !== room), entry],
    );
  }

  /** Forgets the connection's membership of `room`. */
  left(resource: AtmosphereResource, room: string): void {
    this.#change(resource, room, (rooms) =>
      rooms.some((other) => roomOf(other) === room)
        ? rooms.filter((other) => roomOf(other) !== room)
        : undefined,
    );
  }

  /** The memberships the connection's session holds (none without a session). */
  memberships(resource: AtmosphereResource): Awaitable<SessionMembership[]> {
    const session = this.#session(resource);
    if (session === undefined) return [];
    const read = (rooms: readonly string[]): SessionMembership[] => {
      const memberships: SessionMembership[] = [];
      for (const entry of rooms) {
        const membership = decodeMembership(entry, resource.id);
        if (membership !== undefined) memberships.push(membership);
      }
      return memberships;
    };
    const record = session.store.get(session.token);
    return record instanceof Promise
      ? record.then((value) => read(value?.rooms ?? []))
      : read(record?.rooms ?? []);
  }

  #change(
    resource: AtmosphereResource,
    room: string,
    edit: (rooms: readonly string[]) => readonly string[] | undefined,
  ): void {
    const session = this.#session(resource);
    if (session === undefined) return;
    const { store, token } = session;
    const write = async (): Promise<void> => {
      const record = await store.get(token);
      if (record === undefined) return;
      const rooms = edit(record.rooms);
      if (rooms !== undefined) await store.update(token, { rooms });
    };
    const previous = this.#writes.get(token);
    const next = (previous === undefined ? write() : previous.then(write)).catch((error: unknown) => {
      const full = AtmosphereError.isInstance(error) && error.code === 'SESSION_TOO_LARGE';
      this.#logger[full ? 'warn' : 'error'](
        `rooms: keeping room ${room} in the session of ${resource.id} failed; it will not be restored when the client comes back${full ? ' (raise the session store limits, or keep member metadata smaller)' : ''}`,
        { error },
      );
    });
    this.#writes.set(token, next);
    void next.then(() => {
      if (this.#writes.get(token) === next) this.#writes.delete(token);
    });
  }
}
