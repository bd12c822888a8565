import { SESSION_TOKEN_PATTERN } from '@atmosphere/protocol';

/**
 * Where the client keeps its durable-session token: `memory` (the default: the subscription's lifetime),
 * `sessionStorage` (the tab, across reloads) or `localStorage` (every tab, across restarts of the browser);
 * `false` asks for no session.
 */
export type SessionKeeping = 'memory' | 'sessionStorage' | 'localStorage' | false;

/** A session token, or a run id kept beside it: anything else in the storage is ignored. */
const TOKEN = SESSION_TOKEN_PATTERN;

/**
 * A session frame, parsed: the token and whether the session was created or resumed; `refused` names why the
 * token the client presented was not honoured (`SESSION_INVALID`, `SESSION_FOREIGN_ORIGIN`): the session is
 * new, and what the server held for the old one is gone.
 */
export interface SessionFrame {
  readonly token: string;
  readonly status: 'created' | 'resumed';
  readonly expiresAt: number;
  readonly refused?: string;
}

/** The session frame in a message (`{"type":"atmosphere-session",…}`), or `undefined` when it is not one. */
export function parseSessionFrame(body: string | ArrayBuffer): SessionFrame | undefined {
  if (typeof body !== 'string' || !body.startsWith('{"type":"atmosphere-session"')) return undefined;
  try {
    const frame = JSON.parse(body) as SessionFrame;
    return TOKEN.test(frame.token) ? frame : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps the session token of one endpoint (its URL without the query) where `keeping` says — and, with a
 * storage, the AI run in progress, so that a reloaded page re-attaches to the answer it was showing. Storage
 * that throws (disabled, full) leaves both in memory only.
 */
export class SessionKeeper {
  readonly #storage: Storage | undefined;
  readonly #key: string;
  readonly #enabled: boolean;
  #token: string | undefined;

  constructor(url: string, keeping: SessionKeeping, initial: string | undefined) {
    this.#enabled = keeping !== false || initial !== undefined;
    const parsed = new URL(url);
    this.#key = `atmosphere.${parsed.origin}${parsed.pathname}`;
    try {
      if (keeping === 'sessionStorage' || keeping === 'localStorage')
        this.#storage = (globalThis as Record<string, unknown>)[keeping] as Storage | undefined;
    } catch {
      // Storage access throws where it is disabled (sandboxed frames, some privacy modes).
    }
    this.#token = initial ?? this.#read('session');
  }

  /** What to send as `X-Atmosphere-Session-Token`: the token, `0` for a new session, `undefined` when off. */
  get parameter(): string | undefined {
    return this.#enabled ? (this.#token ?? '0') : undefined;
  }

  get token(): string | undefined {
    return this.#token;
  }

  /** The server sent (or confirmed) the token. */
  set(token: string): void {
    this.#token = token;
    this.#write('session', token);
  }

  /** The AI run in progress (storage keeping only). */
  get runId(): string | undefined {
    return this.#read('run');
  }

  set runId(runId: string | undefined) {
    this.#write('run', runId);
  }

  /**
   * Whether this client answered the approval `id` (storage keeping only), or — with `remember` — records that
   * it did (the last 100), so that a reloaded page replaying the answer does not ask again.
   */
  answered(id: string, remember = false): boolean {
    let ids: string[] = [];
    try {
      ids = JSON.parse(this.#get('approvals') ?? '[]') as string[];
    } catch {
      // A damaged entry is started over.
    }
    if (!remember) return ids.includes(id);
    this.#write('approvals', JSON.stringify([...ids.slice(-99), id]));
    return true;
  }

  #get(name: string): string | undefined {
    try {
      return this.#storage?.getItem(`${this.#key}:${name}`) ?? undefined;
    } catch {
      return undefined;
    }
  }

  #read(name: string): string | undefined {
    const value = this.#get(name);
    return value !== undefined && TOKEN.test(value) ? value : undefined;
  }

  #write(name: string, value: string | undefined): void {
    try {
      if (value === undefined) this.#storage?.removeItem(`${this.#key}:${name}`);
      else this.#storage?.setItem(`${this.#key}:${name}`, value);
    } catch {
      // A full or disabled storage keeps the value in memory only.
    }
  }
}
