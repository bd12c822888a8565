import type { RoomModelOptions, ClientTransportName } from '@atmosphere/client';
import { CLIENT_TRANSPORTS } from '@atmosphere/client';

/** The room every page joins; its AI member answers when mentioned (`@assistant`). */
export const ROOM = 'lobby';
/** The id of the room's AI member. */
export const AI_MEMBER = 'assistant';

/** What a page reads from its address: `?member=alice&transport=sse`. */
export interface PageOptions {
  /** Who this page is in the room. Default: a random guest name. */
  readonly member: string;
  /** The transport of every connection of the page. Default `websocket` (the client falls back by itself). */
  readonly transport: ClientTransportName;
}

/** The page's options, from its query string. */
export function pageOptions(search: string = location.search): PageOptions {
  const query = new URLSearchParams(search);
  const transport = query.get('transport');
  return {
    member: query.get('member') ?? `guest-${Math.floor(1000 + Math.random() * 9000)}`,
    transport: CLIENT_TRANSPORTS.find((name) => name === transport) ?? 'websocket',
  };
}

/** The request of one of the server's endpoints (`/ticker`, `/live`, `/ai`, `/rooms`). */
export function endpoint(url: string, options: PageOptions): { url: string; transport: ClientTransportName } {
  return { url, transport: options.transport };
}

/**
 * The options of the room hooks (`useRoom`, `usePresence` and their Vue and Svelte forms). Both hooks get the
 * same options, `history` included: they share one membership, and whichever joins first asks for the
 * history, so late joiners see the conversation so far.
 */
export function roomOptions(
  options: PageOptions,
): Pick<RoomModelOptions, 'request' | 'room' | 'member' | 'history'> {
  return {
    request: endpoint('/rooms', options),
    room: ROOM,
    member: { id: options.member, metadata: { name: options.member } },
    history: true,
  };
}
