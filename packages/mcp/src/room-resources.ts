import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import type { RoomManager } from '@atmosphere/rooms';

/** `atmosphere://rooms/{room}/presence`: the members of a room (JSON), subscribable. */
export const PRESENCE_TEMPLATE = 'atmosphere://rooms/{room}/presence';
/** `atmosphere://rooms/{room}/history`: the messages a room remembers (JSON). */
export const HISTORY_TEMPLATE = 'atmosphere://rooms/{room}/history';

const PRESENCE = /^atmosphere:\/\/rooms\/([^/]+)\/presence$/;

/** The room whose presence a URI names, if it is a presence URI. */
export function presenceRoom(uri: string): string | undefined {
  const match = PRESENCE.exec(uri);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

export function presenceUri(room: string): string {
  return `atmosphere://rooms/${encodeURIComponent(room)}/presence`;
}

function variable(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  return decodeURIComponent(text);
}

function json(uri: URL, value: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value) }] };
}

/**
 * Registers the room resources on a session's server: presence (members with their metadata and whether they
 * are virtual) and history, one pair per room, listed from the manager. `rooms()` rejects when
 * `@atmosphere/rooms` is missing; listing then shows nothing and reading says what to install.
 */
export function registerRoomResources(server: McpServer, rooms: () => Promise<RoomManager>): void {
  const list = (kind: 'presence' | 'history') => async () => {
    let manager: RoomManager;
    try {
      manager = await rooms();
    } catch {
      return { resources: [] };
    }
    return {
      resources: manager.all().map((room) => ({
        uri: `atmosphere://rooms/${encodeURIComponent(room.name)}/${kind}`,
        name: `${room.name} ${kind}`,
        mimeType: 'application/json',
      })),
    };
  };
  server.registerResource(
    'room-presence',
    new ResourceTemplate(PRESENCE_TEMPLATE, { list: list('presence') }),
    {
      title: 'Room presence',
      description:
        'Who is in an Atmosphere room (people and virtual members). Subscribe to hear of joins and leaves.',
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const manager = await rooms();
      const room = manager.find(variable(variables['room']));
      const members = room
        ? [...room.memberInfo().values()].map((m) => ({ id: m.id, metadata: m.metadata, virtual: m.virtual }))
        : [];
      return json(uri, { room: variable(variables['room']), members });
    },
  );
  server.registerResource(
    'room-history',
    new ResourceTemplate(HISTORY_TEMPLATE, { list: list('history') }),
    {
      title: 'Room history',
      description: 'The messages an Atmosphere room remembers, oldest first.',
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const manager = await rooms();
      const room = manager.find(variable(variables['room']));
      return json(uri, { room: variable(variables['room']), messages: room ? room.history() : [] });
    },
  );
}
