import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import Decoder from 'kafkajs/src/protocol/decoder.js';
import Encoder from 'kafkajs/src/protocol/encoder.js';
import crc32C from 'kafkajs/src/protocol/recordBatch/crc32C/index.js';

/**
 * A single-node Kafka broker of the tests' own, speaking the Kafka wire protocol over TCP on 127.0.0.1 — enough
 * of it for what `@atmosphere/kafka` and kafkajs use: ApiVersions, Metadata, CreateTopics, DeleteTopics, Produce,
 * Fetch (long polling), ListOffsets, DeleteRecords, FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetFetch and OffsetCommit, at one version each (the ones a Kafka 2.x broker answers and
 * kafkajs 2 speaks; no flexible versions). Primitives are kafkajs's own `Encoder`/`Decoder`.
 *
 * Like a real broker it checks each record batch (magic 2, CRC-32C), stores it as the producer sent it, only
 * giving it its base offset, and serves whole batches from the one holding the fetch offset; it refuses a batch larger than
 * `maxMessageBytes` with MESSAGE_TOO_LARGE, never creates a topic on a metadata request, and processes the
 * requests of one connection in order. `stop()` closes every connection and the port (state is kept, as a
 * restarted broker keeps its log); `start()` listens again on the same port.
 *
 * It is not Kafka: one node, no replication, no transactions, no compression codecs beyond what kafkajs does
 * on its side, and group rebalancing reduced to "join, then sync".
 */
export interface KafkaDouble {
  readonly port: number;
  /** `127.0.0.1:<port>`, for `brokers`. */
  readonly brokers: string;
  /** Requests answered, by API name. */
  readonly requests: Map<string, number>;
  /** Topic names (for assertions). */
  topics(): string[];
  /** Records in a partition (end offset minus start offset). */
  recordCount(topic: string, partition?: number): number;
  /** Drops every topic and group, as a wiped broker would. */
  wipe(): void;
  /**
   * While true, JoinGroup requests wait (as during a long rebalance); setting it back to false lets them through.
   * For tests that need something to happen before a consumer is back in its group.
   */
  holdJoins: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const ERROR = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  MESSAGE_TOO_LARGE: 10,
  INVALID_TOPIC_EXCEPTION: 17,
  ILLEGAL_GENERATION: 22,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
} as const;

/** API key → [name, the one version answered]. */
const APIS: Record<number, [string, number]> = {
  0: ['Produce', 3],
  1: ['Fetch', 4],
  2: ['ListOffsets', 1],
  3: ['Metadata', 1],
  8: ['OffsetCommit', 2],
  9: ['OffsetFetch', 1],
  10: ['FindCoordinator', 0],
  11: ['JoinGroup', 0],
  12: ['Heartbeat', 0],
  13: ['LeaveGroup', 0],
  14: ['SyncGroup', 0],
  18: ['ApiVersions', 2],
  19: ['CreateTopics', 0],
  20: ['DeleteTopics', 0],
  21: ['DeleteRecords', 0],
};

interface Batch {
  base: number;
  count: number;
  bytes: Buffer;
}

interface Partition {
  batches: Batch[];
  start: number;
  end: number;
}

interface Member {
  id: string;
  protocols: { name: string; metadata: Buffer }[];
  joined: ((answer: Encoder) => void) | undefined;
  synced: ((answer: Encoder) => void) | undefined;
  assignment: Buffer;
}

interface Group {
  generation: number;
  state: 'joining' | 'syncing' | 'stable';
  members: Map<string, Member>;
  leader: string;
  protocol: string;
  offsets: Map<string, number>;
  joinTimer: NodeJS.Timeout | undefined;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** Byte offsets inside a record batch (magic 2). */
const BATCH_LENGTH_OFFSET = 8;
const BATCH_MAGIC_OFFSET = 16;
const BATCH_CRC_OFFSET = 17;
/** The CRC covers the batch from its attributes to its end. */
const BATCH_ATTRIBUTES_OFFSET = 21;
const BATCH_LAST_OFFSET_DELTA = 23;
const BATCH_OVERHEAD = 12;

export interface KafkaDoubleOptions {
  /** Largest record batch a produce may carry (Kafka's `message.max.bytes`). Default 1 MiB + 12 bytes. */
  readonly maxMessageBytes?: number;
  /** How long a rebalance waits for the known members to join again (they learn of it from their next heartbeat, every 3 s in kafkajs). Default 3 500 ms. */
  readonly rebalanceMs?: number;
}

export async function startKafkaDouble(options: KafkaDoubleOptions = {}): Promise<KafkaDouble> {
  const maxMessageBytes = options.maxMessageBytes ?? 1_048_588;
  const rebalanceMs = options.rebalanceMs ?? 3_500;
  const topics = new Map<string, Partition[]>();
  const groups = new Map<string, Group>();
  const requests = new Map<string, number>();
  const sockets = new Set<Socket>();
  /** Fetches waiting for data: woken on every produce. */
  const waiting = new Set<() => void>();
  let server: Server | undefined;
  let port = 0;
  let memberCounter = 0;
  let holdJoins = false;
  const heldJoins: (() => void)[] = [];

  const wake = (): void => {
    for (const waiter of [...waiting]) waiter();
  };

  const partitionOf = (topic: string | null, partition: number): Partition | undefined =>
    topic === null ? undefined : topics.get(topic)?.[partition];

  function metadata(decoder: Decoder): Encoder {
    const count = decoder.readInt32();
    const names: string[] = [];
    for (let i = 0; i < count; i++) names.push(decoder.readString() ?? '');
    const wanted = count < 0 ? [...topics.keys()] : names;
    return new Encoder()
      .writeArray([new Encoder().writeInt32(0).writeString('127.0.0.1').writeInt32(port).writeString(null)])
      .writeInt32(0)
      .writeArray(
        wanted.map((name) => {
          const partitions = topics.get(name);
          const topic = new Encoder()
            .writeInt16(partitions ? ERROR.NONE : ERROR.UNKNOWN_TOPIC_OR_PARTITION)
            .writeString(name)
            .writeBoolean(false);
          return topic.writeArray(
            (partitions ?? []).map((_, index) =>
              new Encoder()
                .writeInt16(ERROR.NONE)
                .writeInt32(index)
                .writeInt32(0)
                .writeArray([0], 'int32')
                .writeArray([0], 'int32'),
            ),
          );
        }),
      );
  }

  function createTopics(decoder: Decoder): Encoder {
    const requested = decoder.readArray((d) => {
      const name = d.readString() ?? '';
      const partitions = d.readInt32();
      d.readInt16();
      d.readArray((a) => [a.readInt32(), a.readArray((r) => r.readInt32())]);
      d.readArray((c) => [c.readString(), c.readString()]);
      return { name, partitions };
    });
    return new Encoder().writeArray(
      requested.map(({ name, partitions }) => {
        let code: number = ERROR.NONE;
        if (!TOPIC_NAME.test(name) || name === '.' || name === '..') code = ERROR.INVALID_TOPIC_EXCEPTION;
        else if (topics.has(name)) code = ERROR.TOPIC_ALREADY_EXISTS;
        else if (partitions === 0 || partitions > 1000) code = ERROR.INVALID_PARTITIONS;
        else
          topics.set(
            name,
            Array.from({ length: partitions < 0 ? 1 : partitions }, () => ({
              batches: [],
              start: 0,
              end: 0,
            })),
          );
        return new Encoder().writeString(name).writeInt16(code);
      }),
    );
  }

  function deleteTopics(decoder: Decoder): Encoder {
    const names = decoder.readArray((d) => d.readString() ?? '');
    return new Encoder().writeArray(
      names.map((name) => {
        const existed = topics.delete(name);
        return new Encoder()
          .writeString(name)
          .writeInt16(existed ? ERROR.NONE : ERROR.UNKNOWN_TOPIC_OR_PARTITION);
      }),
    );
  }

  function produce(decoder: Decoder): Encoder | undefined {
    decoder.readString();
    const acks = decoder.readInt16();
    decoder.readInt32();
    const answers = decoder.readArray((d) => {
      const topic = d.readString();
      const partitions = d.readArray((p) => {
        const index = p.readInt32();
        const records = p.readBytes();
        const partition = partitionOf(topic, index);
        let code: number = ERROR.NONE;
        let base = -1;
        if (!partition) code = ERROR.UNKNOWN_TOPIC_OR_PARTITION;
        else if (records.length > maxMessageBytes) code = ERROR.MESSAGE_TOO_LARGE;
        else {
          // One request may carry several batches; each is checked (magic 2, CRC-32C) before any is stored, then
          // each keeps its bytes and gets its base offset.
          const batches: Buffer[] = [];
          let offset = 0;
          while (offset + BATCH_LAST_OFFSET_DELTA + 4 <= records.length) {
            const length = records.readInt32BE(offset + BATCH_LENGTH_OFFSET) + BATCH_OVERHEAD;
            if (records[offset + BATCH_MAGIC_OFFSET] !== 2 || offset + length > records.length)
              throw new Error(`produce to ${topic}: not a magic-2 record batch`);
            batches.push(Buffer.from(records.subarray(offset, offset + length)));
            offset += length;
          }
          if (
            batches.some(
              (b) => b.readUInt32BE(BATCH_CRC_OFFSET) !== crc32C(b.subarray(BATCH_ATTRIBUTES_OFFSET)),
            )
          )
            code = ERROR.CORRUPT_MESSAGE;
          else {
            base = partition.end;
            for (const bytes of batches) {
              const count = bytes.readInt32BE(BATCH_LAST_OFFSET_DELTA) + 1;
              bytes.writeBigInt64BE(BigInt(partition.end), 0);
              partition.batches.push({ base: partition.end, count, bytes });
              partition.end += count;
            }
          }
        }
        return new Encoder().writeInt32(index).writeInt16(code).writeInt64(base).writeInt64(-1);
      });
      return new Encoder().writeString(topic).writeArray(partitions);
    });
    if (answers.length > 0) setImmediate(wake);
    return acks === 0 ? undefined : new Encoder().writeArray(answers).writeInt32(0);
  }

  interface FetchTopic {
    topic: string | null;
    partitions: { index: number; offset: number; maxBytes: number }[];
  }

  function fetchAnswer(requested: FetchTopic[], maxBytes: number): { encoder: Encoder; bytes: number } {
    let total = 0;
    const encoder = new Encoder().writeInt32(0).writeArray(
      requested.map(({ topic, partitions }) =>
        new Encoder().writeString(topic).writeArray(
          partitions.map(({ index, offset, maxBytes: partitionMax }) => {
            const partition = partitionOf(topic, index);
            const header = new Encoder().writeInt32(index);
            if (!partition)
              return header
                .writeInt16(ERROR.UNKNOWN_TOPIC_OR_PARTITION)
                .writeInt64(-1)
                .writeInt64(-1)
                .writeArray([])
                .writeBytes(Buffer.alloc(0));
            if (offset < partition.start || offset > partition.end)
              return header
                .writeInt16(ERROR.OFFSET_OUT_OF_RANGE)
                .writeInt64(partition.end)
                .writeInt64(partition.end)
                .writeArray([])
                .writeBytes(Buffer.alloc(0));
            const chunks: Buffer[] = [];
            let size = 0;
            for (const batch of partition.batches) {
              if (batch.base + batch.count <= offset) continue;
              if (chunks.length > 0 && (size + batch.bytes.length > partitionMax || total + size > maxBytes))
                break;
              chunks.push(batch.bytes);
              size += batch.bytes.length;
            }
            total += size;
            return header
              .writeInt16(ERROR.NONE)
              .writeInt64(partition.end)
              .writeInt64(partition.end)
              .writeArray([])
              .writeBytes(Buffer.concat(chunks));
          }),
        ),
      ),
    );
    return { encoder, bytes: total };
  }

  async function fetch(decoder: Decoder, socket: Socket): Promise<Encoder> {
    decoder.readInt32();
    const maxWait = decoder.readInt32();
    decoder.readInt32();
    const maxBytes = decoder.readInt32();
    decoder.readInt8();
    const requested: FetchTopic[] = decoder.readArray((d) => ({
      topic: d.readString(),
      partitions: d.readArray((p) => ({
        index: p.readInt32(),
        offset: Number(p.readInt64().toString()),
        maxBytes: p.readInt32(),
      })),
    }));
    const deadline = Date.now() + Math.min(maxWait, 10_000);
    for (;;) {
      const answer = fetchAnswer(requested, maxBytes);
      const remaining = deadline - Date.now();
      if (answer.bytes > 0 || remaining <= 0 || socket.destroyed) return answer.encoder;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, remaining);
        waiting.add(done);
      });
    }
  }

  function listOffsets(decoder: Decoder): Encoder {
    decoder.readInt32();
    const requested = decoder.readArray((d) => ({
      topic: d.readString(),
      partitions: d.readArray((p) => ({ index: p.readInt32(), timestamp: Number(p.readInt64().toString()) })),
    }));
    return new Encoder().writeArray(
      requested.map(({ topic, partitions }) =>
        new Encoder().writeString(topic).writeArray(
          partitions.map(({ index, timestamp }) => {
            const partition = partitionOf(topic, index);
            const encoder = new Encoder().writeInt32(index);
            if (!partition)
              return encoder.writeInt16(ERROR.UNKNOWN_TOPIC_OR_PARTITION).writeInt64(-1).writeInt64(-1);
            // -2: the earliest offset; -1 (or any time, as no record here has a time index): the latest.
            return encoder
              .writeInt16(ERROR.NONE)
              .writeInt64(-1)
              .writeInt64(timestamp === -2 ? partition.start : partition.end);
          }),
        ),
      ),
    );
  }

  function deleteRecords(decoder: Decoder): Encoder {
    const requested = decoder.readArray((d) => ({
      topic: d.readString(),
      partitions: d.readArray((p) => ({ index: p.readInt32(), offset: Number(p.readInt64().toString()) })),
    }));
    decoder.readInt32();
    return new Encoder().writeInt32(0).writeArray(
      requested.map(({ topic, partitions }) =>
        new Encoder().writeString(topic).writeArray(
          partitions.map(({ index, offset }) => {
            const partition = partitionOf(topic, index);
            const encoder = new Encoder().writeInt32(index);
            if (!partition) return encoder.writeInt64(-1).writeInt16(ERROR.UNKNOWN_TOPIC_OR_PARTITION);
            const before = offset === -1 ? partition.end : offset;
            if (before > partition.end) return encoder.writeInt64(-1).writeInt16(ERROR.OFFSET_OUT_OF_RANGE);
            partition.start = Math.max(partition.start, before);
            partition.batches = partition.batches.filter((b) => b.base + b.count > partition.start);
            return encoder.writeInt64(partition.start).writeInt16(ERROR.NONE);
          }),
        ),
      ),
    );
  }

  function group(id: string): Group {
    let found = groups.get(id);
    if (!found) {
      found = {
        generation: 0,
        state: 'stable',
        members: new Map(),
        leader: '',
        protocol: '',
        offsets: new Map(),
        joinTimer: undefined,
      };
      groups.set(id, found);
    }
    return found;
  }

  function completeJoin(found: Group): void {
    found.joinTimer = undefined;
    for (const [id, member] of found.members) if (!member.joined) found.members.delete(id);
    found.generation++;
    found.state = 'syncing';
    const members = [...found.members.values()];
    found.leader = members[0]?.id ?? '';
    found.protocol = members[0]?.protocols[0]?.name ?? '';
    for (const member of members) {
      const answer = new Encoder()
        .writeInt16(ERROR.NONE)
        .writeInt32(found.generation)
        .writeString(found.protocol)
        .writeString(found.leader)
        .writeString(member.id)
        .writeArray(
          member.id === found.leader
            ? members.map((m) =>
                new Encoder()
                  .writeString(m.id)
                  .writeBytes(
                    m.protocols.find((p) => p.name === found.protocol)?.metadata ?? Buffer.alloc(0),
                  ),
              )
            : [],
        );
      const joined = member.joined!;
      member.joined = undefined;
      joined(answer);
    }
  }

  function joinGroup(decoder: Decoder): Promise<Encoder> {
    const groupId = decoder.readString() ?? '';
    decoder.readInt32();
    let memberId = decoder.readString() ?? '';
    decoder.readString();
    const protocols = decoder.readArray((d) => ({ name: d.readString() ?? '', metadata: d.readBytes() }));
    const found = group(groupId);
    if (memberId !== '' && !found.members.has(memberId))
      return Promise.resolve(
        new Encoder()
          .writeInt16(ERROR.UNKNOWN_MEMBER_ID)
          .writeInt32(-1)
          .writeString('')
          .writeString('')
          .writeString(memberId)
          .writeArray([]),
      );
    if (memberId === '') memberId = `member-${++memberCounter}`;
    const member = found.members.get(memberId) ?? {
      id: memberId,
      protocols,
      joined: undefined,
      synced: undefined,
      assignment: Buffer.alloc(0),
    };
    member.protocols = protocols;
    found.members.set(memberId, member);
    found.state = 'joining';
    for (const other of found.members.values()) {
      // A member waiting in SyncGroup of the previous generation must join again.
      const synced = other.synced;
      other.synced = undefined;
      synced?.(new Encoder().writeInt16(ERROR.REBALANCE_IN_PROGRESS).writeBytes(Buffer.alloc(0)));
    }
    const answer = new Promise<Encoder>((resolve) => (member.joined = resolve));
    const everyoneJoined = [...found.members.values()].every((m) => m.joined !== undefined);
    clearTimeout(found.joinTimer);
    if (everyoneJoined) setImmediate(() => completeJoin(found));
    else found.joinTimer = setTimeout(() => completeJoin(found), rebalanceMs);
    return answer;
  }

  function syncGroup(decoder: Decoder): Promise<Encoder> | Encoder {
    const groupId = decoder.readString() ?? '';
    const generation = decoder.readInt32();
    const memberId = decoder.readString() ?? '';
    const assignments = decoder.readArray((d) => ({ id: d.readString() ?? '', assignment: d.readBytes() }));
    const found = groups.get(groupId);
    const member = found?.members.get(memberId);
    if (!found || !member)
      return new Encoder().writeInt16(ERROR.UNKNOWN_MEMBER_ID).writeBytes(Buffer.alloc(0));
    if (generation !== found.generation || found.state === 'joining')
      return new Encoder().writeInt16(ERROR.REBALANCE_IN_PROGRESS).writeBytes(Buffer.alloc(0));
    const answer = new Promise<Encoder>((resolve) => (member.synced = resolve));
    if (memberId === found.leader) {
      for (const { id, assignment } of assignments) {
        const target = found.members.get(id);
        if (target) target.assignment = assignment;
      }
      found.state = 'stable';
    }
    if (found.state === 'stable')
      for (const m of found.members.values()) {
        const synced = m.synced;
        m.synced = undefined;
        synced?.(new Encoder().writeInt16(ERROR.NONE).writeBytes(m.assignment));
      }
    return answer;
  }

  function heartbeat(decoder: Decoder): Encoder {
    const found = groups.get(decoder.readString() ?? '');
    const generation = decoder.readInt32();
    const member = found?.members.get(decoder.readString() ?? '');
    let code: number = ERROR.NONE;
    if (!found || !member) code = ERROR.UNKNOWN_MEMBER_ID;
    else if (found.state !== 'stable') code = ERROR.REBALANCE_IN_PROGRESS;
    else if (generation !== found.generation) code = ERROR.ILLEGAL_GENERATION;
    return new Encoder().writeInt16(code);
  }

  function leaveGroup(decoder: Decoder): Encoder {
    const found = groups.get(decoder.readString() ?? '');
    const memberId = decoder.readString() ?? '';
    if (!found?.members.delete(memberId)) return new Encoder().writeInt16(ERROR.UNKNOWN_MEMBER_ID);
    if (found.members.size > 0) found.state = 'joining';
    else groups.delete([...groups].find(([, g]) => g === found)![0]);
    return new Encoder().writeInt16(ERROR.NONE);
  }

  function offsetFetch(decoder: Decoder): Encoder {
    const found = groups.get(decoder.readString() ?? '');
    const requested = decoder.readArray((d) => ({
      topic: d.readString() ?? '',
      partitions: d.readArray((p) => p.readInt32()),
    }));
    return new Encoder().writeArray(
      requested.map(({ topic, partitions }) =>
        new Encoder().writeString(topic).writeArray(
          partitions.map((index) =>
            new Encoder()
              .writeInt32(index)
              .writeInt64(found?.offsets.get(`${topic}/${index}`) ?? -1)
              .writeString('')
              .writeInt16(ERROR.NONE),
          ),
        ),
      ),
    );
  }

  function offsetCommit(decoder: Decoder): Encoder {
    const found = group(decoder.readString() ?? '');
    decoder.readInt32();
    decoder.readString();
    decoder.readInt64();
    const requested = decoder.readArray((d) => ({
      topic: d.readString() ?? '',
      partitions: d.readArray((p) => {
        const index = p.readInt32();
        const offset = Number(p.readInt64().toString());
        p.readString();
        return { index, offset };
      }),
    }));
    return new Encoder().writeArray(
      requested.map(({ topic, partitions }) =>
        new Encoder().writeString(topic).writeArray(
          partitions.map(({ index, offset }) => {
            found.offsets.set(`${topic}/${index}`, offset);
            return new Encoder().writeInt32(index).writeInt16(ERROR.NONE);
          }),
        ),
      ),
    );
  }

  function findCoordinator(decoder: Decoder): Encoder {
    decoder.readString();
    return new Encoder().writeInt16(ERROR.NONE).writeInt32(0).writeString('127.0.0.1').writeInt32(port);
  }

  function apiVersions(version: number): Encoder {
    const encoder = new Encoder()
      .writeInt16(ERROR.NONE)
      .writeArray(
        Object.entries(APIS).map(([key, [, max]]) =>
          new Encoder().writeInt16(Number(key)).writeInt16(0).writeInt16(max),
        ),
      );
    return version >= 1 ? encoder.writeInt32(0) : encoder;
  }

  async function answer(
    apiKey: number,
    version: number,
    decoder: Decoder,
    socket: Socket,
  ): Promise<Encoder | undefined> {
    const api = APIS[apiKey];
    if (!api) throw new Error(`API key ${apiKey} is not implemented by the test broker`);
    const [name, supported] = api;
    if (apiKey !== 18 && version !== supported)
      throw new Error(`${name} v${version} asked; the test broker answers v${supported} only`);
    requests.set(name, (requests.get(name) ?? 0) + 1);
    switch (apiKey) {
      case 0:
        return produce(decoder);
      case 1:
        return fetch(decoder, socket);
      case 2:
        return listOffsets(decoder);
      case 3:
        return metadata(decoder);
      case 8:
        return offsetCommit(decoder);
      case 9:
        return offsetFetch(decoder);
      case 10:
        return findCoordinator(decoder);
      case 11:
        while (holdJoins) await new Promise<void>((resolve) => heldJoins.push(resolve));
        return joinGroup(decoder);
      case 12:
        return heartbeat(decoder);
      case 13:
        return leaveGroup(decoder);
      case 14:
        return syncGroup(decoder);
      case 18:
        return apiVersions(version);
      case 19:
        return createTopics(decoder);
      case 20:
        return deleteTopics(decoder);
      default:
        return deleteRecords(decoder);
    }
  }

  function serve(socket: Socket): void {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    // Requests of one connection are answered one after the other, in order, as Kafka does.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        queue = queue.then(async () => {
          if (socket.destroyed) return;
          const decoder = new Decoder(Buffer.from(frame));
          const apiKey = decoder.readInt16();
          const version = decoder.readInt16();
          const correlationId = decoder.readInt32();
          decoder.readString();
          try {
            const body = await answer(apiKey, version, decoder, socket);
            // A produce with acks 0 gets no answer.
            if (body === undefined || socket.destroyed) return;
            const response = new Encoder().writeInt32(correlationId).writeEncoder(body);
            socket.write(new Encoder().writeInt32(response.size()).writeEncoder(response).buffer);
          } catch (error) {
            // What a broker does with a request it cannot parse: close the connection.
            process.emitWarning(`test Kafka broker: ${(error as Error).message}`);
            socket.destroy();
          }
        });
      }
    });
  }

  const start = async (): Promise<void> => {
    const listening = createServer(serve);
    listening.listen(port, '127.0.0.1');
    await once(listening, 'listening');
    const address = listening.address();
    if (typeof address === 'object' && address !== null) port = address.port;
    server = listening;
  };

  const stop = async (): Promise<void> => {
    const running = server;
    server = undefined;
    if (!running) return;
    const closed = new Promise<void>((resolve) => running.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    wake();
    await closed;
  };

  await start();
  return {
    get port() {
      return port;
    },
    get brokers() {
      return `127.0.0.1:${port}`;
    },
    requests,
    topics: () => [...topics.keys()],
    recordCount: (topic, partition = 0) => {
      const found = topics.get(topic)?.[partition];
      return found ? found.end - found.start : 0;
    },
    wipe: () => {
      topics.clear();
      groups.clear();
    },
    get holdJoins() {
      return holdJoins;
    },
    set holdJoins(value: boolean) {
      holdJoins = value;
      if (!value) for (const release of heldJoins.splice(0)) release();
    },
    stop,
    start,
  };
}
