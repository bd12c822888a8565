import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { StreamLog } from '@atmosphere/runtime/spi';

const PRIMING = '{}';
const READ_LIMIT = 1000;

/**
 * The SDK's `EventStore` (Streamable HTTP resumability) on an Atmosphere stream log: each SSE stream of a
 * session is a log stream `mcp:<endpoint>:<session>:<stream>`, each event a record, and an event id is
 * `<stream>.<epoch>.<seq>` — so a durable log (SQLite, Redis) keeps a session's events across a restart and
 * a shared one across nodes.
 *
 * A resume whose epoch is not the stream's current one (the log lost the stream: a restart of a memory
 * store) or whose events were trimmed cannot be exact; it is refused (the SDK answers an error and the
 * client starts over) rather than served with a silent gap.
 */
export class LogEventStore implements EventStore {
  readonly #log: StreamLog;
  readonly #prefix: string;
  readonly #streams = new Set<string>();

  /** `scope` names the session (`<endpoint path>:<session id>`); streams of other sessions are never read. */
  constructor(log: StreamLog, scope: string) {
    this.#log = log;
    this.#prefix = `mcp:${scope}:`;
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const key = this.#prefix + streamId;
    this.#streams.add(key);
    // The priming event (an empty object) is stored too: its id is where a client resumes from.
    const position = await this.#log.append(key, [{ payload: JSON.stringify(message) }]);
    return `${encodeStream(streamId)}.${position.epoch}.${position.seq}`;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return Promise.resolve(parseEventId(eventId)?.streamId);
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const parsed = parseEventId(lastEventId);
    if (!parsed)
      throw new Error(`Last-Event-ID ${JSON.stringify(lastEventId)} is not an event id of this server.`);
    const key = this.#prefix + parsed.streamId;
    let after = parsed.seq;
    for (let round = 0; round < 10_000; round++) {
      const read = await this.#log.read(key, after, { limit: READ_LIMIT });
      if (!read || read.epoch !== parsed.epoch) {
        throw new Error('The events after Last-Event-ID are no longer kept (the stream log lost them).');
      }
      const first = read.records[0];
      if ((first && first.seq !== after + 1) || (!first && read.last > after)) {
        throw new Error('The events after Last-Event-ID were trimmed from the stream log.');
      }
      for (const record of read.records) {
        after = record.seq;
        const payload =
          typeof record.payload === 'string' ? record.payload : new TextDecoder().decode(record.payload);
        if (payload === PRIMING) continue;
        await send(
          `${encodeStream(parsed.streamId)}.${read.epoch}.${record.seq}`,
          JSON.parse(payload) as JSONRPCMessage,
        );
      }
      if (read.records.length < READ_LIMIT) break;
    }
    return parsed.streamId;
  }

  /** Forgets every stream of the session (it ended). */
  async clear(): Promise<void> {
    const streams = [...this.#streams];
    this.#streams.clear();
    for (const key of streams) await this.#log.delete(key);
  }
}

function encodeStream(streamId: string): string {
  return Buffer.from(streamId, 'utf8').toString('base64url');
}

/** `<base64url stream>.<epoch>.<seq>` → its parts; undefined for anything else. */
export function parseEventId(eventId: string): { streamId: string; epoch: string; seq: number } | undefined {
  if (eventId.length > 512) return undefined;
  const firstDot = eventId.indexOf('.');
  const lastDot = eventId.lastIndexOf('.');
  if (firstDot <= 0 || lastDot <= firstDot + 1) return undefined;
  const stream = eventId.slice(0, firstDot);
  const epoch = eventId.slice(firstDot + 1, lastDot);
  const seqText = eventId.slice(lastDot + 1);
  const seq = Number(seqText);
  if (!/^[A-Za-z0-9_-]+$/.test(stream) || epoch === '' || !Number.isSafeInteger(seq) || seq < 1)
    return undefined;
  return { streamId: Buffer.from(stream, 'base64url').toString('utf8'), epoch, seq };
}
