import type { BackplaneMessage } from '@atmosphere/runtime/spi';

/**
 * The relay message as it travels on a Redis channel: a small binary header, then the payload's raw bytes.
 * The broadcaster id is not in it: it is the channel name (prefix + id).
 *
 * ```
 * offset  size  field
 * 0       1     magic 0xA7
 * 1       1     format version (1)
 * 2       1     flags: 0x01 payload is binary (else UTF-8 text), 0x02 targets follow, 0x04 exclude follows,
 *               0x08 trace context follows, 0x10 stream position follows
 * 3       16    sender node id (random per backplane instance)
 * 19      4+n   exclude, when flag 0x04: u32 byte length (big-endian), UTF-8 tracking id
 * …       4     targets, when flag 0x02: u32 count, then per target a u32 byte length and the UTF-8 id
 * …       4+n   trace, when flag 0x08: u32 byte length, UTF-8 `traceparent`, then `\n` and `tracestate` if any
 * …       4+n+8 position, when flag 0x10: u32 byte length, UTF-8 epoch, then the seq as a u64 (big-endian:
 *               high u32, low u32; at most 2^53 − 1)
 * …       rest  payload: UTF-8 text, or the bytes exactly as broadcast
 * ```
 *
 * The trace flag is set only by nodes with tracing on; a node of an older release refuses such a message
 * (unknown flag, counted and warned), so upgrade every node before turning tracing on.
 */
export const WIRE_MAGIC = 0xa7;
export const WIRE_VERSION = 1;
export const NODE_ID_BYTES = 16;
/** Where the sender's node id starts. */
export const NODE_ID_OFFSET = 3;
/** The smallest valid message: the fixed header and an empty payload. */
export const HEADER_BYTES = NODE_ID_OFFSET + NODE_ID_BYTES;

const FLAG_BINARY = 0x01;
const FLAG_TARGETS = 0x02;
const FLAG_EXCLUDE = 0x04;
const FLAG_TRACE = 0x08;
const FLAG_POSITION = 0x10;
const KNOWN_FLAGS = FLAG_BINARY | FLAG_TARGETS | FLAG_EXCLUDE | FLAG_TRACE | FLAG_POSITION;
const TWO_TO_32 = 0x1_0000_0000;

/** Why a relay message was refused. */
export class MalformedMessageError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'MalformedMessageError';
  }
}

/**
 * Encodes a message for the channel, in one buffer. The payload's bytes are copied once; strings are written
 * as UTF-8.
 */
export function encodeRelayMessage(nodeId: Uint8Array, message: BackplaneMessage): Buffer {
  const { payload, targets, exclude, trace, position } = message;
  const binary = typeof payload !== 'string';
  let size = HEADER_BYTES + (binary ? payload.byteLength : Buffer.byteLength(payload, 'utf8'));
  let flags = binary ? FLAG_BINARY : 0;
  let excludeBytes = 0;
  if (exclude !== undefined) {
    flags |= FLAG_EXCLUDE;
    excludeBytes = Buffer.byteLength(exclude, 'utf8');
    size += 4 + excludeBytes;
  }
  let targetBytes: number[] | undefined;
  if (targets !== undefined) {
    flags |= FLAG_TARGETS;
    targetBytes = new Array<number>(targets.length);
    size += 4;
    for (let i = 0; i < targets.length; i++) {
      const length = Buffer.byteLength(targets[i]!, 'utf8');
      targetBytes[i] = length;
      size += 4 + length;
    }
  }
  let traceText: string | undefined;
  let traceBytes = 0;
  if (trace !== undefined) {
    flags |= FLAG_TRACE;
    traceText =
      trace.tracestate === undefined ? trace.traceparent : `${trace.traceparent}\n${trace.tracestate}`;
    traceBytes = Buffer.byteLength(traceText, 'utf8');
    size += 4 + traceBytes;
  }
  let epochBytes = 0;
  if (position !== undefined) {
    const seq = position.seq;
    if (!Number.isSafeInteger(seq) || seq < 0)
      throw new RangeError(`the stream position's seq (${seq}) is not an integer in [0, 2^53)`);
    flags |= FLAG_POSITION;
    epochBytes = Buffer.byteLength(position.epoch, 'utf8');
    size += 4 + epochBytes + 8;
  }
  const buffer = Buffer.allocUnsafe(size);
  buffer[0] = WIRE_MAGIC;
  buffer[1] = WIRE_VERSION;
  buffer[2] = flags;
  buffer.set(nodeId, NODE_ID_OFFSET);
  let offset = HEADER_BYTES;
  if (exclude !== undefined) {
    offset = buffer.writeUInt32BE(excludeBytes, offset);
    offset += buffer.write(exclude, offset, 'utf8');
  }
  if (targets !== undefined && targetBytes !== undefined) {
    offset = buffer.writeUInt32BE(targets.length, offset);
    for (let i = 0; i < targets.length; i++) {
      offset = buffer.writeUInt32BE(targetBytes[i]!, offset);
      offset += buffer.write(targets[i]!, offset, 'utf8');
    }
  }
  if (traceText !== undefined) {
    offset = buffer.writeUInt32BE(traceBytes, offset);
    offset += buffer.write(traceText, offset, 'utf8');
  }
  if (position !== undefined) {
    offset = buffer.writeUInt32BE(epochBytes, offset);
    offset += buffer.write(position.epoch, offset, 'utf8');
    const seq = position.seq;
    offset = buffer.writeUInt32BE(Math.floor(seq / TWO_TO_32), offset);
    offset = buffer.writeUInt32BE(seq % TWO_TO_32, offset);
  }
  if (binary) buffer.set(payload, offset);
  else buffer.write(payload, offset, 'utf8');
  return buffer;
}

/** True when the message was sent by the node with this id (compared without copying). */
export function isFromNode(message: Buffer, nodeId: Uint8Array): boolean {
  return (
    message.length >= HEADER_BYTES &&
    message.compare(nodeId, 0, NODE_ID_BYTES, NODE_ID_OFFSET, NODE_ID_OFFSET + NODE_ID_BYTES) === 0
  );
}

function readString(message: Buffer, offset: number, what: string): [string, number] {
  if (offset + 4 > message.length) throw new MalformedMessageError(`truncated before the ${what} length`);
  const length = message.readUInt32BE(offset);
  const start = offset + 4;
  if (length > message.length - start)
    throw new MalformedMessageError(`the ${what} length (${length}) runs past the end of the message`);
  return [message.toString('utf8', start, start + length), start + length];
}

/**
 * Decodes a message from the channel (the broadcaster id comes from the channel name). Binary payloads are
 * copied out of the buffer so that a cached message does not hold on to the client's read buffer. Throws
 * {@link MalformedMessageError} when the bytes are not a relay message of this format.
 */
export function decodeRelayMessage(broadcaster: string, message: Buffer): BackplaneMessage {
  if (message.length < HEADER_BYTES)
    throw new MalformedMessageError(`${message.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  if (message[0] !== WIRE_MAGIC) throw new MalformedMessageError('not a relay message (bad magic byte)');
  if (message[1] !== WIRE_VERSION)
    throw new MalformedMessageError(
      `format version ${message[1]} is not supported (this node reads ${WIRE_VERSION})`,
    );
  const flags = message[2]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new MalformedMessageError(`unknown flags 0x${flags.toString(16)}`);
  let offset = HEADER_BYTES;
  const decoded: BackplaneMessage = { broadcaster, payload: '' };
  if (flags & FLAG_EXCLUDE) {
    [decoded.exclude, offset] = readString(message, offset, 'exclude');
  }
  if (flags & FLAG_TARGETS) {
    if (offset + 4 > message.length) throw new MalformedMessageError('truncated before the target count');
    const count = message.readUInt32BE(offset);
    offset += 4;
    // Each target takes at least its 4-byte length: a count beyond that is a lie, not a reason to allocate.
    if (count > (message.length - offset) / 4)
      throw new MalformedMessageError(`the target count (${count}) exceeds what the message can hold`);
    const targets = new Array<string>(count);
    for (let i = 0; i < count; i++) [targets[i], offset] = readString(message, offset, 'target');
    decoded.targets = targets;
  }
  if (flags & FLAG_TRACE) {
    let text: string;
    [text, offset] = readString(message, offset, 'trace');
    const newline = text.indexOf('\n');
    decoded.trace =
      newline === -1
        ? { traceparent: text }
        : { traceparent: text.slice(0, newline), tracestate: text.slice(newline + 1) };
  }
  if (flags & FLAG_POSITION) {
    let epoch: string;
    [epoch, offset] = readString(message, offset, 'epoch');
    if (offset + 8 > message.length) throw new MalformedMessageError('truncated inside the position seq');
    const high = message.readUInt32BE(offset);
    const seq = high * TWO_TO_32 + message.readUInt32BE(offset + 4);
    if (!Number.isSafeInteger(seq))
      throw new MalformedMessageError(`the position seq (high word ${high}) is beyond 2^53 − 1`);
    offset += 8;
    decoded.position = { epoch, seq };
  }
  decoded.payload =
    flags & FLAG_BINARY
      ? Buffer.copyBytesFrom(message, offset)
      : message.toString('utf8', offset, message.length);
  return decoded;
}
