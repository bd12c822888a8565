/**
 * Where the client keeps its durable-session token: `memory` (the default: the subscription's lifetime),
 * `sessionStorage` (the tab, across reloads) or `localStorage` (every tab, across restarts of the browser);
 * `false` asks for no session.
 */
export type SessionKeeping = 'memory' | 'sessionStorage' | 'localStorage' | false;

/** The `type` of the session frame the server sends first (PROTOCOL.md §1, `X-Atmosphere-Session-Token`). */
const SESSION_FRAME_PREFIX = '{"type":"atmosphere-session"';
const TOKEN = /^[A-Za-z0-9_-]{22,128}$/;

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

/** The session frame in a message, or `undefined` when the message is not one. */
export function parseSessionFrame(body: string | ArrayBuffer): SessionFrame | undefined {
  if (typeof body !== 'string' || !body.startsWith(SESSION_FRAME_PREFIX)) return undefined;
  try {
    const value = JSON.parse(body) as Partial<SessionFrame>;
    if (typeof value.token !== 'string' || !TOKEN.test(value.token)) return undefined;
    return {
      token: value.token,
      status: value.status === 'resumed' ? 'resumed' : 'created',
      expiresAt: typeof value.expiresAt === 'number' ? value.expiresAt : 0,
      ...(typeof value.refused === 'string' ? { refused: value.refused.slice(0, 64) } : {}),
    };
  } catch {
    return undefined;
  }
}

function storageOf(keeping: SessionKeeping): Storage | undefined {
  if (keeping !== 'sessionStorage' && keeping !== 'localStorage') return undefined;
  try {
    return (globalThis as Record<string, unknown>)[keeping] as Storage | undefined;
  } catch {
    // Storage access throws where it is disabled (sandboxed frames, some privacy modes).
    return undefined;
  }
}

/**
 * Keeps the session token of one endpoint (its URL without the query) where `keeping` says, and gives the
 * value to send as `X-Atmosphere-Session-Token`: the token, or `0` to ask for a new session.
 */
export class SessionKeeper {
  readonly #storage: Storage | undefined;
  readonly #key: string;
  readonly #enabled: boolean;
  #token: string | undefined;

  constructor(url: string, keeping: SessionKeeping, initial: string | undefined) {
    this.#enabled = keeping !== false || initial !== undefined;
    this.#storage = storageOf(keeping);
    const parsed = new URL(url);
    this.#key = `atmosphere.session:${parsed.origin}${parsed.pathname}`;
    this.#token = initial ?? this.#read();
  }

  /** What to send: the token, `0` for a new session, or `undefined` when sessions are off. */
  get parameter(): string | undefined {
    if (!this.#enabled) return undefined;
    return this.#token ?? '0';
  }

  get token(): string | undefined {
    return this.#token;
  }

  /** The server sent (or confirmed) the token. */
  set(token: string): void {
    this.#token = token;
    try {
      this.#storage?.setItem(this.#key, token);
    } catch {
      // A full or disabled storage keeps the token in memory only.
    }
  }

  #read(): string | undefined {
    try {
      const value = this.#storage?.getItem(this.#key) ?? undefined;
      return value !== undefined && TOKEN.test(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }
}
