import type { BackplaneMessage } from '@atmosphere/runtime/spi';
import type { KafkaHeaderValue, KafkaMessageLike, KafkaOutgoingMessage } from './kafka-client.ts';

/**
 * A relayed broadcast as one Kafka record of the relay topic:
 *
 * | part | content |
 * |---|---|
 * | key | the broadcaster id, UTF-8 (so one broadcaster always lands on one partition, in order) |
 * | value | the payload: UTF-8 text, or the bytes exactly as broadcast |
 * | header `atmosphere-v` | format version, `1` |
 * | header `atmosphere-node` | the sender's node id, 16 bytes (a node skips its own records) |
 * | header `atmosphere-binary` | present (`1`) when the payload is bytes |
 * | header `atmosphere-exclude` | the tracking id left out, UTF-8 |
 * | header `atmosphere-targets` | the tracking ids addressed: u32 count, then per id a u32 byte length and UTF-8 (big-endian); present and empty for `targets: []` |
 * | header `atmosphere-epoch`, `atmosphere-seq` | the message's stream position (epoch UTF-8, seq in decimal), when it has one |
 * | header `traceparent`, `tracestate` | the W3C trace context of the broadcast, when the sending node traces (the names OpenTelemetry's Kafka instrumentations use) |
 *
 * Headers other than these are ignored, so later versions can add some without breaking older nodes. A
 * trace context that is not well-formed is ignored too (the message is delivered, outside any trace).
 */
export const RELAY_HEADERS = Object.freeze({
  version: 'atmosphere-v',
  node: 'atmosphere-node',
  binary: 'atmosphere-binary',
  exclude: 'atmosphere-exclude',
  targets: 'atmosphere-targets',
  epoch: 'atmosphere-epoch',
  seq: 'atmosphere-seq',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
});

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** W3C `tracestate`: at most 32 list members of at most 256 characters, printable ASCII. */
const TRACESTATE = /^[\x20-\x7e]{0,8192}$/;
/** The value of `atmosphere-v` this node writes and reads. */
export const RELAY_FORMAT_VERSION = '1';
/** Length of the sender's node id in `atmosphere-node`. */
export const NODE_ID_BYTES = 16;

const VERSION = Buffer.from(RELAY_FORMAT_VERSION);
const ONE = Buffer.from('1');

/** Why a record of the relay topic was refused. */
export class MalformedRecordError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'MalformedRecordError';
  }
}

/** Tracking ids as one header value: u32 count, then per id a u32 byte length and its UTF-8 (big-endian). */
export function encodeTargets(targets: readonly string[]): Buffer {
  let size = 4;
  const lengths = targets.map((target) => Buffer.byteLength(target, 'utf8'));
  for (const length of lengths) size += 4 + length;
  const buffer = Buffer.allocUnsafe(size);
  let offset = buffer.writeUInt32BE(targets.length, 0);
  for (let i = 0; i < targets.length; i++) {
    offset = buffer.writeUInt32BE(lengths[i]!, offset);
    offset += buffer.write(targets[i]!, offset, 'utf8');
  }
  return buffer;
}

/** The inverse of {@link encodeTargets}; throws {@link MalformedRecordError} on anything else. */
export function decodeTargets(buffer: Buffer): string[] {
  if (buffer.length < 4) throw new MalformedRecordError('the targets header is shorter than its count');
  const count = buffer.readUInt32BE(0);
  // Each target takes at least its 4-byte length: a count beyond that is a lie, not a reason to allocate.
  if (count > (buffer.length - 4) / 4)
    throw new MalformedRecordError(`the target count (${count}) exceeds what the header can hold`);
  const targets = new Array<string>(count);
  let offset = 4;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > buffer.length) throw new MalformedRecordError('the targets header is truncated');
    const length = buffer.readUInt32BE(offset);
    offset += 4;
    if (length > buffer.length - offset)
      throw new MalformedRecordError(`a target length (${length}) runs past the end of the targets header`);
    targets[i] = buffer.toString('utf8', offset, offset + length);
    offset += length;
  }
  if (offset !== buffer.length) throw new MalformedRecordError('the targets header has trailing bytes');
  return targets;
}

/** The record for a broadcast, on the given partition, and its size in bytes (key, value and headers). */
export function encodeRelayRecord(
  nodeId: Buffer,
  message: BackplaneMessage,
  partition: number,
): { record: KafkaOutgoingMessage; bytes: number } {
  const { payload, targets, exclude, position } = message;
  const key = Buffer.from(message.broadcaster, 'utf8');
  const value =
    typeof payload === 'string'
      ? Buffer.from(payload, 'utf8')
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const headers: Record<string, Buffer> = { [RELAY_HEADERS.version]: VERSION, [RELAY_HEADERS.node]: nodeId };
  if (typeof payload !== 'string') headers[RELAY_HEADERS.binary] = ONE;
  if (exclude !== undefined) headers[RELAY_HEADERS.exclude] = Buffer.from(exclude, 'utf8');
  if (targets !== undefined) headers[RELAY_HEADERS.targets] = encodeTargets(targets);
  if (position !== undefined) {
    headers[RELAY_HEADERS.epoch] = Buffer.from(position.epoch, 'utf8');
    headers[RELAY_HEADERS.seq] = Buffer.from(String(position.seq));
  }
  const trace = message.trace;
  if (trace !== undefined) {
    headers[RELAY_HEADERS.traceparent] = Buffer.from(trace.traceparent, 'latin1');
    if (trace.tracestate !== undefined)
      headers[RELAY_HEADERS.tracestate] = Buffer.from(trace.tracestate, 'latin1');
  }
  let bytes = key.length + value.length;
  for (const name in headers) bytes += name.length + headers[name]!.length;
  return { record: { key, value, partition, headers }, bytes };
}

/** The size of a received record as {@link encodeRelayRecord} counts it. */
export function recordSize(message: KafkaMessageLike): number {
  let bytes = (message.key?.length ?? 0) + (message.value?.length ?? 0);
  const headers = message.headers;
  if (headers)
    for (const name in headers) {
      const value = headers[name];
      const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
      for (const one of values) bytes += name.length + Buffer.byteLength(one);
    }
  return bytes;
}

function header(message: KafkaMessageLike, name: string): Buffer | undefined {
  const value: KafkaHeaderValue = message.headers?.[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new MalformedRecordError(`the ${name} header appears more than once`);
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** True when the record was sent by the node with this id. */
export function isFromNode(message: KafkaMessageLike, nodeId: Buffer): boolean {
  const value = message.headers?.[RELAY_HEADERS.node];
  return Buffer.isBuffer(value) && value.equals(nodeId);
}

/**
 * Decodes a record of the relay topic. Binary payloads are copied out of kafkajs's fetch buffer. Throws
 * {@link MalformedRecordError} with the reason when the record is not a relay record of this format.
 */
export function decodeRelayRecord(message: KafkaMessageLike): BackplaneMessage {
  const version = header(message, RELAY_HEADERS.version);
  if (version === undefined) throw new MalformedRecordError('not a relay record (no atmosphere-v header)');
  if (!version.equals(VERSION))
    throw new MalformedRecordError(
      `format version ${version.toString('utf8').slice(0, 20)} is not supported (this node reads ${RELAY_FORMAT_VERSION})`,
    );
  const node = header(message, RELAY_HEADERS.node);
  if (node?.length !== NODE_ID_BYTES)
    throw new MalformedRecordError(`the sender node id is missing or not ${NODE_ID_BYTES} bytes`);
  if (message.key === null) throw new MalformedRecordError('the record has no key (the broadcaster id)');
  const value = message.value ?? Buffer.alloc(0);
  const decoded: BackplaneMessage = {
    broadcaster: message.key.toString('utf8'),
    payload:
      header(message, RELAY_HEADERS.binary) !== undefined
        ? Buffer.copyBytesFrom(value)
        : value.toString('utf8'),
  };
  const exclude = header(message, RELAY_HEADERS.exclude);
  if (exclude !== undefined) decoded.exclude = exclude.toString('utf8');
  const targets = header(message, RELAY_HEADERS.targets);
  if (targets !== undefined) decoded.targets = decodeTargets(targets);
  const epoch = header(message, RELAY_HEADERS.epoch);
  const seq = header(message, RELAY_HEADERS.seq);
  if ((epoch === undefined) !== (seq === undefined))
    throw new MalformedRecordError('a stream position needs both atmosphere-epoch and atmosphere-seq');
  if (epoch !== undefined && seq !== undefined) {
    const text = seq.toString('latin1');
    const number = Number(text);
    if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(number))
      throw new MalformedRecordError(
        `the sequence number ${JSON.stringify(text.slice(0, 20))} is not a positive integer`,
      );
    if (epoch.length === 0) throw new MalformedRecordError('the epoch is empty');
    decoded.position = { epoch: epoch.toString('utf8'), seq: number };
  }
  const trace = traceOf(message);
  if (trace !== undefined) decoded.trace = trace;
  return decoded;
}

/** The record's W3C trace context, or undefined when it has none or a malformed one (never a refusal). */
function traceOf(message: KafkaMessageLike): BackplaneMessage['trace'] {
  const traceparent = single(message.headers?.[RELAY_HEADERS.traceparent]);
  if (traceparent === undefined || !TRACEPARENT.test(traceparent)) return undefined;
  const tracestate = single(message.headers?.[RELAY_HEADERS.tracestate]);
  return tracestate === undefined || !TRACESTATE.test(tracestate)
    ? { traceparent }
    : { traceparent, tracestate };
}

function single(value: KafkaHeaderValue): string | undefined {
  if (value === undefined || Array.isArray(value) || value.length > 8192) return undefined;
  return typeof value === 'string' ? value : value.toString('latin1');
}
