/** The id of the runtime broadcaster that carries a room's traffic. */
export function roomBroadcasterId(room: string): string {
  return `rooms:${room}`;
}

/**
 * The id of the runtime broadcaster that carries a room's traffic, in the atmosphere.js 5 dialect, to the
 * connections that speak it (created when the first such connection joins).
 */
export function roomAtmosphereJsBroadcasterId(room: string): string {
  return `rooms.atmosphere-js:${room}`;
}
