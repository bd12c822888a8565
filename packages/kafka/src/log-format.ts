import type { LogEntry, LogRecord } from '@atmosphere/runtime/spi';
import type { KafkaHeaderValue, KafkaMessageLike } from './kafka-client.ts';
import { decodeTargets, encodeTargets, MalformedRecordError } from './wire-format.ts';

/**
 * The records of a stream's topic (partition 0), in offset order:
 *
 * | record | `atmosphere-log` header | other headers | value |
 * |---|---|---|---|
 * | epoch | `epoch` | `atmosphere-epoch` | empty |
 * | entry | `entry` | `atmosphere-epoch`, `atmosphere-base` (the epoch record's offset), `atmosphere-binary`, `atmosphere-targets`, `atmosphere-exclude` | the payload |
 * | deleted | `deleted` | — | empty |
 *
 * An entry's seq is its offset minus `atmosphere-base`, so any entry says which epoch and number it has: the log
 * reads both from whichever record is the oldest it still holds.
 */
export const LOG_HEADERS = Object.freeze({
  kind: 'atmosphere-log',
  epoch: 'atmosphere-epoch',
  base: 'atmosphere-base',
  binary: 'atmosphere-binary',
  targets: 'atmosphere-targets',
  exclude: 'atmosphere-exclude',
});

/** A record of a stream's topic, decoded. */
export type LogTopicRecord =
  | { readonly kind: 'epoch'; readonly offset: number; readonly epoch: string }
  | { readonly kind: 'deleted'; readonly offset: number }
  | {
      readonly kind: 'entry';
      readonly offset: number;
      readonly epoch: string;
      readonly base: number;
      readonly record: LogRecord;
    };

/** A record ready for `producer.send`. */
export interface LogOutgoingRecord {
  value: Buffer;
  headers: Record<string, Buffer>;
}

/** The record that starts an epoch; its offset is the epoch's base. */
export function epochRecord(epoch: string): LogOutgoingRecord {
  return {
    value: Buffer.alloc(0),
    headers: { [LOG_HEADERS.kind]: Buffer.from('epoch'), [LOG_HEADERS.epoch]: Buffer.from(epoch) },
  };
}

/** The record that forgets a stream: everything before it is deleted, and the next append starts an epoch. */
export function deletedRecord(): LogOutgoingRecord {
  return { value: Buffer.alloc(0), headers: { [LOG_HEADERS.kind]: Buffer.from('deleted') } };
}

/** An entry as a record of the epoch starting at offset `base`. */
export function entryRecord(entry: LogEntry, epoch: string, base: number): LogOutgoingRecord {
  const { payload, targets, exclude } = entry;
  const headers: Record<string, Buffer> = {
    [LOG_HEADERS.kind]: Buffer.from('entry'),
    [LOG_HEADERS.epoch]: Buffer.from(epoch),
    [LOG_HEADERS.base]: Buffer.from(String(base)),
  };
  if (typeof payload !== 'string') headers[LOG_HEADERS.binary] = Buffer.from('1');
  if (targets !== undefined) headers[LOG_HEADERS.targets] = encodeTargets(targets);
  if (exclude !== undefined) headers[LOG_HEADERS.exclude] = Buffer.from(exclude, 'utf8');
  return {
    value:
      typeof payload === 'string'
        ? Buffer.from(payload, 'utf8')
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    headers,
  };
}

/** The size of a record as the broker counts most of it (value and headers). */
export function outgoingSize(record: LogOutgoingRecord): number {
  let bytes = record.value.length;
  for (const name in record.headers) bytes += name.length + record.headers[name]!.length;
  return bytes;
}

function header(message: KafkaMessageLike, name: string): Buffer | undefined {
  const value: KafkaHeaderValue = message.headers?.[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new MalformedRecordError(`the ${name} header appears more than once`);
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** Decodes a record of a stream's topic; throws {@link MalformedRecordError} when it is not one of ours. */
export function decodeLogRecord(message: KafkaMessageLike): LogTopicRecord {
  const offset = Number(message.offset);
  const kind = header(message, LOG_HEADERS.kind)?.toString('latin1');
  if (kind === 'deleted') return { kind, offset };
  const epoch = header(message, LOG_HEADERS.epoch)?.toString('utf8');
  if (epoch === undefined || epoch === '') throw new MalformedRecordError(`record ${offset} has no epoch`);
  if (kind === 'epoch') return { kind, offset, epoch };
  if (kind !== 'entry') throw new MalformedRecordError(`record ${offset} is not a stream log record`);
  const base = Number(header(message, LOG_HEADERS.base)?.toString('latin1'));
  if (!Number.isSafeInteger(base) || base < 0 || base >= offset)
    throw new MalformedRecordError(`record ${offset} has no valid atmosphere-base`);
  const value = message.value ?? Buffer.alloc(0);
  const targets = header(message, LOG_HEADERS.targets);
  const exclude = header(message, LOG_HEADERS.exclude);
  const record: { -readonly [K in keyof LogRecord]: LogRecord[K] } = {
    seq: offset - base,
    time: Number(message.timestamp),
    payload:
      header(message, LOG_HEADERS.binary) !== undefined
        ? Buffer.copyBytesFrom(value)
        : value.toString('utf8'),
  };
  if (targets !== undefined) record.targets = decodeTargets(targets);
  if (exclude !== undefined) record.exclude = exclude.toString('utf8');
  return { kind, offset, epoch, base, record };
}
