/**
 * A message's place in its stream (DURABILITY.md §2). `epoch` is a random id that changes whenever the
 * stream's history is lost (a memory store restarted, a Redis key flushed, a SQLite file replaced); `seq`
 * counts 1, 2, 3… within an epoch. The same position means the same message on every node sharing the log.
 */
export interface StreamPosition {
  readonly epoch: string;
  readonly seq: number;
}

/** A position in a named stream (a broadcaster, a room): what a client remembers and presents on reconnect. */
export interface StreamCursor extends StreamPosition {
  readonly stream: string;
}

/**
 * The `reset` outcome of a resume (DURABILITY.md §1): the server cannot send what the client missed of
 * `stream` from `from` on (the log no longer holds it, or its history was lost: another epoch). What follows
 * on the wire for the stream starts at `resumeAt` when the server knows it (the oldest frame it still holds,
 * or the next one it will append). The client must refetch what lies in between (room history, …).
 */
export interface StreamReset {
  readonly stream: string;
  /** The first position the client did not get: its cursor's epoch, the cursor's seq + 1. */
  readonly from: StreamPosition;
  /** Where the stream resumes on the wire, when known. */
  readonly resumeAt?: StreamPosition;
}

/**
 * The mark that starts a positioned frame (ASCII group separator). Only clients that ask for positions
 * (`X-Atmosphere-Positions: true`) ever see it; every other client gets the payload as it is.
 */
export const POSITION_MARK = '\u001d';
const MARK_CODE = 0x1d;
const BAR_CODE = 0x7c;

/** Most cursors a client presents (and a server reads) in one request. */
export const MAX_CURSORS = 64;

/**
 * The prefix of a message of `stream` at `position`, for clients that asked for positions:
 * `\u001dp<seq>,<epoch>,<stream>|` (epoch and stream URI-encoded). The payload follows unchanged.
 */
export function positionPrefix(stream: string, position: StreamPosition): string {
  return `${POSITION_MARK}p${position.seq},${encodeURIComponent(position.epoch)},${encodeURIComponent(stream)}|`;
}

/** The prefix of a message without a position whose payload starts with the mark, so it is not misread. */
export const ESCAPE_PREFIX = `${POSITION_MARK}|`;

/** The reset frame: `\u001dr|` followed by the {@link StreamReset} as JSON. */
export function resetFrame(reset: StreamReset): string {
  return `${POSITION_MARK}r|${JSON.stringify(reset)}`;
}

/** A frame as a client that asked for positions reads it. */
export type PositionedFrame =
  | { readonly kind: 'message'; readonly body: string; readonly cursor?: StreamCursor }
  | { readonly kind: 'reset'; readonly reset: StreamReset };

function parseHead(head: string): StreamCursor | undefined {
  if (head.charCodeAt(0) !== 0x70 /* p */) return undefined;
  const first = head.indexOf(',');
  const second = head.indexOf(',', first + 1);
  if (first === -1 || second === -1) return undefined;
  const seqText = head.slice(1, first);
  if (!/^\d{1,15}$/.test(seqText)) return undefined;
  try {
    return {
      stream: decodeURIComponent(head.slice(second + 1)),
      epoch: decodeURIComponent(head.slice(first + 1, second)),
      seq: Number(seqText),
    };
  } catch {
    return undefined;
  }
}

function parseReset(json: string): StreamReset | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const reset = value as Partial<StreamReset> | null;
  if (typeof reset !== 'object' || reset === null || typeof reset.stream !== 'string') return undefined;
  if (!isPosition(reset.from)) return undefined;
  const result: StreamReset = {
    stream: reset.stream,
    from: { epoch: reset.from.epoch, seq: reset.from.seq },
  };
  return isPosition(reset.resumeAt)
    ? { ...result, resumeAt: { epoch: reset.resumeAt.epoch, seq: reset.resumeAt.seq } }
    : result;
}

function isPosition(value: unknown): value is StreamPosition {
  const position = value as Partial<StreamPosition> | null | undefined;
  return (
    typeof position === 'object' &&
    position !== null &&
    typeof position.epoch === 'string' &&
    typeof position.seq === 'number' &&
    Number.isInteger(position.seq) &&
    position.seq >= 0
  );
}

/**
 * Reads a text frame of a connection that asked for positions. A frame without the mark is a message
 * without a position (the handshake, the session frame, a message written to the client alone); a marked
 * frame that cannot be read returns `undefined` (a protocol error).
 */
export function parsePositionedText(text: string): PositionedFrame | undefined {
  if (text.charCodeAt(0) !== MARK_CODE) return { kind: 'message', body: text };
  const bar = text.indexOf('|');
  if (bar === -1) return undefined;
  const head = text.slice(1, bar);
  const body = text.slice(bar + 1);
  if (head === '') return { kind: 'message', body };
  if (head === 'r') {
    const reset = parseReset(body);
    return reset === undefined ? undefined : { kind: 'reset', reset };
  }
  const cursor = parseHead(head);
  return cursor === undefined ? undefined : { kind: 'message', body, cursor };
}

/**
 * Reads a binary frame of a connection that asked for positions (WebSocket binary messages carry the same
 * ASCII prefix before their bytes). Returns the bytes after the prefix and the cursor, if any.
 */
export function parsePositionedBytes(
  bytes: Uint8Array,
): { readonly body: Uint8Array; readonly cursor?: StreamCursor } | undefined {
  if (bytes[0] !== MARK_CODE) return { body: bytes };
  const bar = bytes.indexOf(BAR_CODE);
  if (bar === -1 || bar > 4096) return undefined;
  let head = '';
  for (let i = 1; i < bar; i++) head += String.fromCharCode(bytes[i]!);
  const body = bytes.subarray(bar + 1);
  if (head === '') return { body };
  const cursor = parseHead(head);
  return cursor === undefined ? undefined : { body, cursor };
}

/**
 * The value of `X-Atmosphere-Cursors`: `<stream>,<epoch>,<seq>` per stream (stream and epoch URI-encoded),
 * separated by `;`. At most {@link MAX_CURSORS} (the most recent ones given).
 */
export function formatCursors(cursors: Iterable<StreamCursor>): string {
  const parts: string[] = [];
  for (const cursor of cursors)
    parts.push(`${encodeURIComponent(cursor.stream)},${encodeURIComponent(cursor.epoch)},${cursor.seq}`);
  return parts.slice(-MAX_CURSORS).join(';');
}

/** Reads `X-Atmosphere-Cursors`; unreadable entries are skipped, at most {@link MAX_CURSORS} are read. */
export function parseCursors(value: string): StreamCursor[] {
  const cursors: StreamCursor[] = [];
  for (const part of value.split(';', MAX_CURSORS)) {
    const fields = part.split(',');
    if (fields.length !== 3 || !/^\d{1,15}$/.test(fields[2]!)) continue;
    try {
      const stream = decodeURIComponent(fields[0]!);
      const epoch = decodeURIComponent(fields[1]!);
      if (stream === '' || epoch === '' || stream.length > 1024 || epoch.length > 256) continue;
      cursors.push({ stream, epoch, seq: Number(fields[2]) });
    } catch {
      // not URI encoding: skipped
    }
  }
  return cursors;
}
