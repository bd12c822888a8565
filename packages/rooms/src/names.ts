/** The id of the runtime broadcaster that carries a room's traffic. */
export function roomBroadcasterId(room: string): string {
  return `rooms:${room}`;
}

/**
 * The id of the runtime broadcaster that carries a room's traffic, in the atmosphere.js 5 dialect, to the
 * connections of this node that speak it (created when the first such connection joins). It never relays to
 * other nodes; on a stream log shared by a cluster its id names the node (`node`), so that its positions are
 * this node's alone.
 */
export function roomAtmosphereJsBroadcasterId(room: string, node?: string): string {
  return node === undefined ? `rooms.atmosphere-js:${room}` : `rooms.atmosphere-js@${node}:${room}`;
}
