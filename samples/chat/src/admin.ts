import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AtmosphereError, type AtmosphereInterceptor } from '@atmosphere/runtime';

/** Where the operator's pages and data live: the dashboard page, its live feed, `/admin/metrics`. */
export const ADMIN_PREFIX = '/admin/';

/** The cookie an operator's browser holds after logging in (HttpOnly: the page's scripts never see it). */
export const ADMIN_COOKIE = 'chat_admin';

/** How long an operator's login lasts. */
const SESSION_MS = 8 * 60 * 60 * 1000;
/** Logins kept at most: the oldest goes first (a bound on what a flood of good logins can hold). */
const MAX_SESSIONS = 64;

/**
 * Who may see the operator's surfaces: whoever knows the admin token (`CHAT_ADMIN_TOKEN`, or one made at
 * startup and printed in the log). A browser trades the token for an HttpOnly, SameSite=Strict cookie at
 * `POST /admin/login`; a scraper sends it as `Authorization: Bearer …`. The token is never in a page.
 */
export class AdminAccess {
  readonly #token: Buffer;
  /** Session id → when it expires. */
  readonly #sessions = new Map<string, number>();
  /** True when the token was made here (the log then prints it, since nobody else knows it). */
  readonly generated: boolean;

  constructor(token?: string) {
    if (token !== undefined && token.length < 16)
      throw new Error(
        'CHAT_ADMIN_TOKEN must be at least 16 characters (or leave it unset for a random one).',
      );
    this.generated = token === undefined;
    this.#token = Buffer.from(token ?? randomBytes(24).toString('base64url'));
  }

  /** The token, for the startup log when it was generated here. */
  get token(): string {
    return this.#token.toString();
  }

  /** Whether `given` is the admin token (compared in constant time). */
  matches(given: string): boolean {
    const candidate = Buffer.from(given);
    return candidate.length === this.#token.length && timingSafeEqual(candidate, this.#token);
  }

  /** Whether a request comes from an operator: a live login cookie, or the token as a bearer. */
  allows(headers: IncomingMessage['headers']): boolean {
    const authorization = headers.authorization;
    if (authorization?.toLowerCase().startsWith('bearer ') && this.matches(authorization.slice(7).trim()))
      return true;
    const session = cookie(headers.cookie, ADMIN_COOKIE);
    if (session === undefined) return false;
    const expires = this.#sessions.get(session);
    if (expires === undefined) return false;
    if (expires < Date.now()) {
      this.#sessions.delete(session);
      return false;
    }
    return true;
  }

  /**
   * `POST /admin/login` with `{"token":"…"}` (JSON only: a cross-site form cannot send it) sets the session
   * cookie; `GET /admin/session` answers `{"operator":true|false}`; `POST /admin/logout`
   * ends the session. Returns false for other paths.
   */
  async handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    if (path === '/admin/session' && request.method === 'GET') {
      reply(response, 200, { operator: this.allows(request.headers) });
      return true;
    }
    if (path === '/admin/logout' && request.method === 'POST') {
      const session = cookie(request.headers.cookie, ADMIN_COOKIE);
      if (session !== undefined) this.#sessions.delete(session);
      response.writeHead(204, { 'Set-Cookie': `${ADMIN_COOKIE}=; ${COOKIE_FLAGS}; Max-Age=0` });
      response.end();
      return true;
    }
    if (path !== '/admin/login') return false;
    if (request.method !== 'POST') {
      reply(response, 405, { error: 'POST the token as {"token":"…"}.' });
      return true;
    }
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
      reply(response, 415, { error: 'Send the token as JSON: {"token":"…"}.' });
      return true;
    }
    const body = await readBody(request, 512).catch(() => undefined);
    let token: unknown;
    try {
      token = body === undefined ? undefined : (JSON.parse(body) as { token?: unknown }).token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || !this.matches(token)) {
      reply(response, 401, { error: 'Wrong admin token (CHAT_ADMIN_TOKEN, or the one the server printed).' });
      return true;
    }
    const session = randomBytes(24).toString('base64url');
    this.#sessions.set(session, Date.now() + SESSION_MS);
    while (this.#sessions.size > MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    response.writeHead(204, {
      'Set-Cookie': `${ADMIN_COOKIE}=${session}; ${COOKIE_FLAGS}; Max-Age=${SESSION_MS / 1000}`,
      'Cache-Control': 'no-store',
    });
    response.end();
    return true;
  }

  /**
   * Refuses an Atmosphere connection under {@link ADMIN_PREFIX} (the dashboard's live feed) from anyone but
   * an operator: 401 before the upgrade or the response.
   */
  interceptor(): AtmosphereInterceptor {
    return {
      name: 'chat-admin',
      onConnect: (context) => {
        if (!context.request.path.startsWith(ADMIN_PREFIX)) return;
        if (this.allows(context.raw.headers)) return;
        throw new AtmosphereError('UNAUTHORIZED', 'Log in at /admin/ first.', { status: 401 });
      },
    };
  }
}

const COOKIE_FLAGS = `Path=${ADMIN_PREFIX}; HttpOnly; SameSite=Strict`;

function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  response.end(JSON.stringify(body));
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) {
        reject(new Error('body too large'));
        request.destroy();
      }
    });
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}
