import { createConnection } from 'node:net';
import {
  AtmosphereHeaders,
  formatCursors,
  parsePositionedText,
  type StreamCursor,
  type StreamReset,
} from '@atmosphere/protocol';
import type { Atmosphere, AtmosphereOptions } from '@atmosphere/runtime';
import {
  connectTestClient,
  Inbox,
  recordingLogger,
  startTestAtmosphere,
  type TestClient,
  type TestTransport,
} from '@atmosphere/runtime/testing';
import { RedisBackplane, redisBackplane, type RedisBackplaneOptions } from '../src/index.ts';

export type RecordingLogger = ReturnType<typeof recordingLogger>;

/** One node of a test cluster: its Atmosphere, its Redis backplane and everything it logged. */
export interface TestNode {
  readonly atmosphere: Atmosphere;
  readonly backplane: RedisBackplane;
  readonly logger: RecordingLogger;
  /** Log lines of a level whose message contains `text`. */
  lines(level: string, text: string): string[];
}

/** Starts a node on port 0 with a Redis backplane, serving `/chat/{room}` (text codec). */
export async function startNode(
  options: RedisBackplaneOptions,
  atmosphereOptions: AtmosphereOptions = {},
): Promise<TestNode> {
  const logger = recordingLogger();
  const atmosphere = await startTestAtmosphere({
    providers: [redisBackplane(options)],
    logger,
    ...atmosphereOptions,
  });
  const backplane = atmosphere.provider('broadcaster-backplane');
  if (!(backplane instanceof RedisBackplane)) {
    await atmosphere.close();
    throw new Error(`the selected backplane is ${backplane?.name}, not redis`);
  }
  atmosphere.managed('/chat/{room}', {}, { codec: 'text' });
  return {
    atmosphere,
    backplane,
    logger,
    lines: (level, text) =>
      logger.lines.filter((l) => l.level === level && l.message.includes(text)).map((l) => l.message),
  };
}

/** The query of a client that asks for stream positions, presenting `cursors` when given. */
export function positioned(cursors?: readonly StreamCursor[]): Record<string, string> {
  const query: Record<string, string> = { [AtmosphereHeaders.positions]: 'true' };
  if (cursors !== undefined) query[AtmosphereHeaders.cursors] = formatCursors(cursors);
  return query;
}

/** What a positioned client read, in arrival order: bodies with their seq, resets as `reset:<from>-><resumeAt>`. */
export interface PositionedRead {
  readonly bodies: string[];
  readonly seqs: number[];
  readonly resets: StreamReset[];
  readonly order: string[];
  /** The client's last position of each stream (what it presents when it reconnects). */
  readonly cursors: StreamCursor[];
}

export function readPositioned(frames: readonly string[]): PositionedRead {
  const read: PositionedRead = { bodies: [], seqs: [], resets: [], order: [], cursors: [] };
  const cursors = new Map<string, StreamCursor>();
  for (const raw of frames) {
    const frame = parsePositionedText(raw);
    if (frame === undefined) throw new Error(`unreadable positioned frame ${JSON.stringify(raw)}`);
    if (frame.kind === 'reset') {
      read.resets.push(frame.reset);
      read.order.push(`reset:${frame.reset.from.seq}->${frame.reset.resumeAt?.seq ?? '?'}`);
      cursors.delete(frame.reset.stream);
      continue;
    }
    read.bodies.push(frame.body);
    read.order.push(frame.body);
    if (frame.cursor !== undefined) {
      read.seqs.push(frame.cursor.seq);
      cursors.set(frame.cursor.stream, frame.cursor);
    }
  }
  read.cursors.push(...cursors.values());
  return read;
}

/**
 * A client of `url` that asks for stream positions; with `cursors`, it resumes from them. On long-polling each
 * poll presents its latest cursors, as `@atmosphere/client` does.
 */
export async function connectPositioned(
  url: string,
  transport: TestTransport,
  cursors?: readonly StreamCursor[],
): Promise<TestClient> {
  const holder: { client?: TestClient } = {};
  const latest = (): StreamCursor[] => {
    const merged = new Map((cursors ?? []).map((cursor) => [cursor.stream, cursor]));
    for (const cursor of readPositioned(holder.client?.messages.items ?? []).cursors)
      merged.set(cursor.stream, cursor);
    return [...merged.values()];
  };
  const client = await connectTestClient(url, transport, {
    query: positioned(cursors),
    pollQuery: () => positioned(latest()),
  });
  holder.client = client;
  return client;
}

/** A frame of the rooms dialect, parsed. */
export type RoomFrame = { readonly type: string; readonly [key: string]: unknown };

/** A WebSocket connection to a node's rooms path whose frames are parsed into an inbox as they arrive. */
export async function connectRoomClient(
  url: string,
): Promise<{ client: TestClient; frames: Inbox<RoomFrame> }> {
  const client = await connectTestClient(url, 'websocket');
  const frames = new Inbox<RoomFrame>(20_000);
  void (async () => {
    for (;;) {
      let text: string;
      try {
        text = await client.messages.next(3_600_000);
      } catch {
        return;
      }
      frames.push(JSON.parse(text) as RoomFrame);
    }
  })();
  return { client, frames };
}

/**
 * A room client of a node (see {@link connectRoomClient}) that joins `room` as `memberId` (with `sinceId` when
 * given); resolves with its `join_ack` once it is in.
 */
export async function joinRoomClient(
  url: string,
  room: string,
  memberId: string,
  sinceId?: number,
): Promise<{ client: TestClient; frames: Inbox<RoomFrame>; ack: RoomFrame }> {
  const joined = await connectRoomClient(url);
  try {
    await joined.client.send(JSON.stringify({ type: 'join', room, memberId, sinceId }));
    const ack = await joined.frames.waitFor((f) => f.type === 'join_ack' && f['room'] === room);
    return { ...joined, ack };
  } catch (error) {
    await joined.client.close().catch(() => undefined);
    throw error;
  }
}

/** Sends one command to the redis-server on `port` over a raw socket; resolves with its first reply line. */
export function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let answer = '';
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (!answer.includes('\r\n')) return;
      socket.destroy();
      if (answer.startsWith('-')) reject(new Error(`${command}: ${answer.trim()}`));
      else resolve(answer.trim());
    });
    socket.on('error', reject);
  });
}
