/** Event names of `event` frames (PROTOCOL.md §7). Servers may add others. */
export type AiEventName =
  | 'text-delta'
  | 'text-complete'
  | 'tool-start'
  | 'tool-result'
  | 'tool-error'
  | 'agent-step'
  | 'structured-field'
  | 'entity-start'
  | 'entity-complete'
  | 'routing-decision'
  | 'progress'
  | 'handoff'
  | 'complete'
  | 'plan-update'
  | 'approval-required'
  | 'reasoning-delta'
  | 'reasoning-complete'
  | 'citation'
  | (string & {});

interface FrameBase {
  /** A fresh id per prompt. */
  readonly sessionId: string;
  /** Counts from 1 within a session. */
  readonly seq: number;
}

/** One AI frame (PROTOCOL.md §7), `event` frames normalised to `type: 'event'`. */
export type AiFrame = FrameBase &
  (
    | { readonly type: 'streaming-text'; readonly data: string }
    | { readonly type: 'progress'; readonly data: string }
    | { readonly type: 'metadata'; readonly key: string; readonly value: unknown }
    | {
        readonly type: 'complete';
        readonly data: string | undefined;
        /** `stopped` when the user stopped the run (the text so far stands). */
        readonly reason: 'stopped' | undefined;
      }
    | { readonly type: 'error'; readonly data: string }
    | { readonly type: 'event'; readonly event: AiEventName; readonly data: unknown }
  );

const TYPES = new Set(['streaming-text', 'progress', 'metadata', 'complete', 'error']);

/**
 * Reads an AI frame from a message text; `undefined` when the text is not one (not JSON, or no
 * `sessionId`/`seq`, or an unknown type) — such messages are the application's own.
 */
export function parseAiFrame(text: string): AiFrame | undefined {
  // Cheap refusal before JSON.parse: every frame is an object mentioning its session.
  if (text.charCodeAt(0) !== 123 /* { */ || !text.includes('"sessionId"')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  const sessionId = raw['sessionId'];
  const seq = raw['seq'];
  if (typeof sessionId !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq))
    return undefined;
  if (typeof raw['event'] === 'string') {
    return { type: 'event', event: raw['event'], data: raw['data'], sessionId, seq };
  }
  const type = raw['type'];
  if (typeof type !== 'string' || !TYPES.has(type)) return undefined;
  switch (type) {
    case 'streaming-text':
    case 'progress':
      return {
        type,
        data:
          typeof raw['data'] === 'string'
            ? raw['data']
            : raw['data'] === undefined
              ? ''
              : JSON.stringify(raw['data']),
        sessionId,
        seq,
      };
    case 'metadata':
      if (typeof raw['key'] !== 'string') return undefined;
      return { type, key: raw['key'], value: raw['value'], sessionId, seq };
    case 'complete':
      return {
        type,
        data: typeof raw['data'] === 'string' ? raw['data'] : undefined,
        reason: raw['reason'] === 'stopped' ? 'stopped' : undefined,
        sessionId,
        seq,
      };
    default:
      return {
        type: 'error',
        data: typeof raw['data'] === 'string' ? raw['data'] : 'Unknown error',
        sessionId,
        seq,
      };
  }
}

/**
 * Drops frames already seen, by `(sessionId, seq)`: a frame whose seq is not above the last one of its
 * session is a duplicate (a replay after a reconnect). Remembers the last `capacity` sessions.
 */
export class FrameDeduplicator {
  readonly #last = new Map<string, number>();
  readonly #capacity: number;

  constructor(capacity = 64) {
    this.#capacity = capacity;
  }

  /** True for a frame not seen before (and records it). */
  accept(frame: FrameBase): boolean {
    const last = this.#last.get(frame.sessionId);
    if (last !== undefined && frame.seq <= last) return false;
    if (last === undefined && this.#last.size >= this.#capacity) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
    this.#last.set(frame.sessionId, frame.seq);
    return true;
  }

  /** The last seq seen for a session. */
  lastSeq(sessionId: string): number | undefined {
    return this.#last.get(sessionId);
  }
}
