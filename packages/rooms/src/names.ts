/** The id of the runtime broadcaster that carries a room's traffic. */
export function roomBroadcasterId(room: string): string {
  return `rooms:${room}`;
}
