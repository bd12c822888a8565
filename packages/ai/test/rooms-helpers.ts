import type { AtmosphereOptions } from '@atmosphere/runtime';
import { createRooms, type RoomManager } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  connectTestClient,
  startTestAtmosphere,
  type TestClient,
  type TestTransport,
} from '@atmosphere/runtime/testing';
import { openAiRuntime, type OpenAiCompatibleRuntime } from '../src/runtimes/openai/openai-runtime.ts';
import { type ReplayServer, type ReplayStep, startReplayServer } from '../src/testing/index.ts';

/** A frame a room connection received, parsed. */
export type Frame = { readonly type?: string; readonly [key: string]: unknown };

/** A real protocol client in a room: sends the room dialect (PROTOCOL.md §8), reads every frame parsed. */
export class RoomClient {
  readonly client: TestClient;
  readonly name: string;
  /** The room it joined last. */
  room: string | undefined;

  constructor(client: TestClient, name: string) {
    this.client = client;
    this.name = name;
  }

  /** Sends a frame as JSON. */
  send(frame: object): Promise<number> {
    return this.client.send(JSON.stringify(frame));
  }

  /** Says `data` to the room. */
  say(room: string, data: unknown): Promise<number> {
    return this.send({ type: 'broadcast', room, data });
  }

  /** Every frame received so far, in order. */
  frames(): Frame[] {
    return this.client.messages.items.map((text) => JSON.parse(text) as Frame);
  }

  /** The first unconsumed frame matching (earlier ones are consumed). */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    return JSON.parse(
      await this.client.messages.waitFor((text) => predicate(JSON.parse(text) as Frame), timeoutMs),
    ) as Frame;
  }

  /** Joins as `name` (plus `fields`) and resolves with the `join_ack`. */
  async join(room: string, fields: Record<string, unknown> = {}): Promise<Frame> {
    await this.send({ type: 'join', room, memberId: this.name, ...fields });
    const ack = await this.waitFor((frame) => frame.type === 'join_ack' && frame['room'] === room);
    this.room = room;
    return ack;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** A server with rooms on `/rooms`, a replay server speaking the OpenAI wire format, and room clients. */
export interface RoomsHarness {
  readonly atmosphere: Atmosphere;
  readonly rooms: RoomManager;
  readonly replay: ReplayServer;
  /** The built-in runtime, pointed at the replay server. */
  runtime(): OpenAiCompatibleRuntime;
  /** Connects a client and joins it to `room` as `name`, waiting for the clients already in that room to see it. */
  member(
    name: string,
    room: string,
    transport?: TestTransport,
    fields?: Record<string, unknown>,
  ): Promise<RoomClient>;
  close(): Promise<void>;
}

export async function roomsHarness(
  options: { history?: number; steps?: ReplayStep[]; atmosphere?: AtmosphereOptions } = {},
): Promise<RoomsHarness> {
  const replay = await startReplayServer(options.steps ?? []);
  const atmosphere = await startTestAtmosphere(options.atmosphere);
  const rooms = createRooms(atmosphere, { path: '/rooms', history: options.history ?? 50 });
  const clients: RoomClient[] = [];
  return {
    atmosphere,
    rooms,
    replay,
    runtime: () =>
      openAiRuntime({
        env: {},
        apiKey: 'sk-test-rooms-key-0123456789',
        model: 'gpt-4o-mini',
        baseUrl: replay.baseUrl,
        retry: { maxRetries: 0 },
      }),
    async member(name, room, transport = 'websocket', fields = {}) {
      const others = clients.filter((other) => other.room === room);
      const client = new RoomClient(await connectTestClient(atmosphere.url('/rooms'), transport), name);
      clients.push(client);
      await client.join(room, fields);
      // Frames of different connections are ordered only once seen: wait until everyone saw the join.
      for (const other of others)
        await other.waitFor((f) => f.type === 'presence' && f['action'] === 'join' && f['memberId'] === name);
      return client;
    },
    async close() {
      await Promise.allSettled(clients.map((client) => client.close()));
      await atmosphere.close();
      await replay.close();
    },
  };
}

/** The frames of a member's activity: its AI frames (tagged `from`), its typing frames and its messages. */
export function framesOf(frames: readonly Frame[], memberId: string): Frame[] {
  return frames.filter((f) => f['from'] === memberId || (f.type === 'typing' && f['memberId'] === memberId));
}

/** The `message` frames a member said. */
export function messagesOf(frames: readonly Frame[], memberId: string): Frame[] {
  return frames.filter((f) => f.type === 'message' && f['from'] === memberId);
}

/** The `streaming-text` data of one session, joined. */
export function streamedText(frames: readonly Frame[], sessionId: string): string {
  return frames
    .filter((f) => f.type === 'streaming-text' && f['sessionId'] === sessionId)
    .map((f) => f['data'] as string)
    .join('');
}

/** The terminal frame (`complete` or `error`) of an answer of the member `assistant`. */
export const isAnswerEnd = (f: Frame): boolean =>
  f['from'] === 'assistant' && (f.type === 'complete' || f.type === 'error');
