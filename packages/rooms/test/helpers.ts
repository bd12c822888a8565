import type { Atmosphere, AtmosphereOptions } from '@atmosphere/runtime';
import {
  connectTestClient,
  startTestAtmosphere,
  type TestClient,
  type TestClientOptions,
  type TestTransport,
} from '@atmosphere/runtime/testing';
import { createRooms, type RoomManager, type RoomsOptions } from '../src/index.ts';

/** A server frame of the room protocol, parsed. */
export type Frame = { readonly type: string; readonly [key: string]: unknown };

/** A test client that speaks the room protocol: sends JSON frames, waits for parsed ones. */
export class RoomClient {
  readonly client: TestClient;

  constructor(client: TestClient) {
    this.client = client;
  }

  static async connect(
    url: string,
    transport: TestTransport,
    options?: TestClientOptions,
  ): Promise<RoomClient> {
    return new RoomClient(await connectTestClient(url, transport, options));
  }

  get trackingId(): string {
    return this.client.trackingId;
  }

  /** Sends a frame (objects as JSON, strings as they are); resolves with the POST status (200 for WebSocket). */
  send(frame: object | string): Promise<number> {
    return this.client.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame not consumed yet. */
  async next(timeoutMs?: number): Promise<Frame> {
    return JSON.parse(await this.client.messages.next(timeoutMs)) as Frame;
  }

  /** The next `count` frames. */
  async take(count: number, timeoutMs?: number): Promise<Frame[]> {
    return (await this.client.messages.take(count, timeoutMs)).map((text) => JSON.parse(text) as Frame);
  }

  /** The first unconsumed frame matching (earlier ones are consumed). */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame> {
    return JSON.parse(
      await this.client.messages.waitFor((text) => predicate(JSON.parse(text) as Frame), timeoutMs),
    ) as Frame;
  }

  /** Every frame received so far, consumed or not. */
  frames(): Frame[] {
    return this.client.messages.items.map((text) => JSON.parse(text) as Frame);
  }

  /** Joins and resolves with the `join_ack` (the frames before it are consumed). */
  async join(room: string, fields: Record<string, unknown> = {}): Promise<Frame> {
    await this.send({ type: 'join', room, ...fields });
    return this.waitFor((frame) => frame.type === 'join_ack' && frame['room'] === room);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  cut(): void {
    this.client.cut();
  }
}

/** A test server with rooms on `/rooms`. */
export async function startRooms(
  roomsOptions: RoomsOptions = {},
  atmosphereOptions: AtmosphereOptions = {},
): Promise<{ atmosphere: Atmosphere; rooms: RoomManager; url: string }> {
  const atmosphere = await startTestAtmosphere(atmosphereOptions);
  const rooms = createRooms(atmosphere, { path: '/rooms', ...roomsOptions });
  return { atmosphere, rooms, url: atmosphere.url('/rooms') };
}

/** The member ids of a `join_ack`. */
export function memberIds(ack: Frame): string[] {
  return (ack['members'] as { id: string }[]).map((member) => member.id);
}
