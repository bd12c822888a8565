import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type AgentRuntime, aiEndpoint, OpenAiCompatibleRuntime } from '@atmosphere/ai';
import { type LlmRoomMember, llmRoomMember, type RoomRoleContext } from '@atmosphere/ai/rooms';
import { metrics, metricsHandler, tracing } from '@atmosphere/observability';
import { createRooms, type RoomManager } from '@atmosphere/rooms';
import { type Atmosphere, createAtmosphere, type Logger } from '@atmosphere/runtime';
import { Registry } from 'prom-client';
import { AdminAccess } from './admin.ts';
import { type Dashboard, startDashboard } from './dashboard.ts';
import { buildPage, type PageFiles, servePage } from './page.ts';
import { type ChatTracing, startTracing } from './telemetry.ts';

/** Options of {@link startChat}. */
export interface ChatOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where LLM_* variables are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** A runtime for the AI members instead of the one the provider registry selects. */
  readonly runtime?: AgentRuntime;
  /** How long a member whose connection was cut may take to come back before the others see it leave. */
  readonly reconnectGraceMs?: number;
  /** The built page, when already built (tests build it once). */
  readonly page?: PageFiles;
  /** When the assistant answers in each room without being mentioned (see {@link AnswerPolicy}). Default {@link DEFAULT_ANSWERS}. */
  readonly answers?: Readonly<Record<string, AnswerPolicy>>;
  /**
   * The SQLite file that keeps streams, sessions and AI runs across a restart (`@atmosphere/durable-sessions`),
   * or false for memory only. Default: `ATMOSPHERE_DURABLE_SQLITE` (`off` turns it off), else
   * {@link DURABLE_FILE} when the package and better-sqlite3 are installed.
   */
  readonly durable?: string | false;
  /**
   * The operator's token for `/admin/` (the live dashboard and `/admin/metrics`), at least 16 characters.
   * Default: `CHAT_ADMIN_TOKEN`, else a random one made at startup (see {@link Chat.admin}).
   */
  readonly adminToken?: string;
  /** How often an open dashboard is updated. Default 1000 ms. */
  readonly dashboardIntervalMs?: number;
}

/**
 * When the assistant answers a message that mentions nobody: `questions` — a question to the room (it ends
 * with `?`); `mentions` — never (only `@assistant …`). A mention of an AI member is always answered, and a
 * message that mentions a person is theirs.
 */
export type AnswerPolicy = 'questions' | 'mentions';

export const ANSWER_POLICIES: readonly AnswerPolicy[] = ['questions', 'mentions'];

/** #lobby answers questions to the room; #random is for people (mention an AI member to ask it). */
export const DEFAULT_ANSWERS: Readonly<Record<string, AnswerPolicy>> = {
  lobby: 'questions',
  random: 'mentions',
};

/** Where the sample keeps its durable state by default (git ignores `.atmosphere/`). */
export const DURABLE_FILE = fileURLToPath(new URL('../.atmosphere/durable.sqlite', import.meta.url));

/** The notice a room gets when its policy changes (a message from the server, kept in history). */
export interface AnswersNotice {
  readonly notice: 'answers';
  readonly answers: AnswerPolicy;
  readonly text: string;
}

const POLICY_TEXT: Readonly<Record<AnswerPolicy, string>> = {
  questions: 'Assistant answers questions to the room and mentions (@assistant, @poet).',
  mentions: 'AI members answer only when mentioned (@assistant, @poet).',
};

/** A message is a question to the room when it ends with a question mark. */
export function isQuestion(text: string): boolean {
  return /\?[\s"'”’)]*$/.test(text);
}

/** The member id a person gets for `wanted` in a room: `wanted` when free, else `wanted-2`, `wanted-3`, … */
export function freeName(taken: Iterable<string>, wanted: string): string {
  const used = new Set<string>();
  for (const id of taken) used.add(id.toLowerCase());
  if (!used.has(wanted.toLowerCase())) return wanted;
  const stem = wanted.slice(0, 28);
  for (let n = 2; ; n++) if (!used.has(`${stem}-${n}`.toLowerCase())) return `${stem}-${n}`;
}

const NAME = /^[A-Za-z0-9_.-]{1,32}$/;

/** What answers in the rooms, for the page's banner. */
export interface ModelInfo {
  /** `demo`, or the provider's runtime name. */
  readonly runtime: string;
  /** True when the demo model answers (no LLM_API_KEY). */
  readonly demo: boolean;
  readonly model: string | undefined;
}

/** A running sample. */
export interface Chat {
  readonly atmosphere: Atmosphere;
  readonly rooms: RoomManager;
  /** The page's URL. */
  readonly url: string;
  readonly model: ModelInfo;
  /** The SQLite file durable state is kept in, or undefined when it is kept in memory. */
  readonly durableFile: string | undefined;
  /** Each room's answer policy (changed by the page through `POST /api/rooms/<room>/answers`). */
  answersOf(room: string): AnswerPolicy | undefined;
  /**
   * The operator's surfaces: the dashboard's URL, and the token when it was made at startup (nobody else
   * knows it then, so the start script prints it); undefined when it came from `CHAT_ADMIN_TOKEN` or options.
   */
  readonly admin: { readonly url: string; readonly generatedToken: string | undefined };
  /** The prom-client registry the runtime's metrics are kept in (served at `/admin/metrics`). */
  readonly registry: Registry;
  readonly dashboard: Dashboard;
  /** The OpenTelemetry SDK, when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_TRACES_EXPORTER` turned tracing on. */
  readonly tracing: ChatTracing | undefined;
  close(): Promise<void>;
}

/** The one-to-one assistant's endpoint (`aiEndpoint`), used by the `/ask/` page. */
export const ASK_PATH = '/ai/assistant';

/** The rooms the page offers; each has AI members. */
export const ROOMS = ['lobby', 'random'] as const;

const ASSISTANT_PROMPT =
  'You are Assistant, a member of a group chat. Several people read your answers. Answer briefly and helpfully; ' +
  'address people by name when it helps.';
const POET_PROMPT =
  'You are Poet, a member of a group chat. Answer every message with a short poem of four lines at most, ' +
  'made of its words.';

/** Whether the durable stores can load here (the package and its SQLite driver are installed). */
function durableInstalled(): boolean {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('@atmosphere/durable-sessions/package.json');
    require.resolve('better-sqlite3');
    return true;
  } catch {
    return false;
  }
}

/** The environment the runtime reads, with the durable store's file decided. */
function durableEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  durable: string | false | undefined,
): { env: Record<string, string | undefined>; file: string | undefined } {
  const out: Record<string, string | undefined> = { ...env };
  const installed = durableInstalled();
  let file: string | undefined;
  if (durable === false) file = undefined;
  else if (typeof durable === 'string') file = durable;
  else if (env['ATMOSPHERE_DURABLE_SQLITE'] === 'off') file = undefined;
  else file = env['ATMOSPHERE_DURABLE_SQLITE'] || (installed ? DURABLE_FILE : undefined);
  out['ATMOSPHERE_DURABLE_SQLITE'] = file ?? 'off';
  return { env: out, file: installed ? file : undefined };
}

function readJson(request: IncomingMessage, limit = 1024): Promise<unknown> {
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
    request.on('end', () => {
      try {
        resolve(JSON.parse(body));
      } catch {
        reject(new Error('The body is not JSON.'));
      }
    });
    request.on('error', reject);
  });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  response.end(JSON.stringify(body));
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Starts the main sample: the page, and rooms (`/rooms`) where people and AI members talk. Each room has
 * `assistant` (answers `@assistant`, and questions to the room where the room's {@link AnswerPolicy} says so)
 * and `poet` (answers when mentioned: `@poet`). A name is one person's in a room (`/api/rooms/<room>/name`
 * gives a free one). `/ask/` talks to the assistant one to one (`aiEndpoint` at {@link ASK_PATH}, paint timing on
 * in its page). Durable on SQLite by default (see `durable`). The AI runtime is
 * the one the provider registry selects: `@atmosphere/ai/register` is autoloaded from this package's
 * dependencies, so without LLM_API_KEY a clearly labelled demo model answers, and with it the built-in
 * OpenAI-compatible client.
 */
export async function startChat(options: ChatOptions = {}): Promise<Chat> {
  const page = options.page ?? (await buildPage());
  const host = options.host ?? '127.0.0.1';
  let model: ModelInfo = { runtime: 'starting', demo: true, model: undefined };
  const answers = new Map<string, AnswerPolicy>(
    ROOMS.map((room) => [room, options.answers?.[room] ?? DEFAULT_ANSWERS[room] ?? 'mentions']),
  );
  // The rooms exist once Atmosphere started (after the server listens); the API finds them here.
  const started: { rooms?: RoomManager } = {};
  const env = options.env ?? process.env;
  const admin = new AdminAccess(options.adminToken ?? (env['CHAT_ADMIN_TOKEN'] || undefined));
  const api = async (request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> => {
    if (await admin.handle(request, response, path)) return true;
    if (path === '/api/info' && request.method === 'GET') {
      json(response, 200, { model, rooms: ROOMS, answers: Object.fromEntries(answers) });
      return true;
    }
    const match = /^\/api\/rooms\/([a-z]+)\/(name|answers)$/.exec(path);
    if (!match) return false;
    const room = match[1]!;
    const live = answers.has(room) ? started.rooms?.find(room) : undefined;
    if (!live) {
      json(response, 404, { error: `No room ${room}.` });
      return true;
    }
    if (match[2] === 'name' && request.method === 'GET') {
      // The name a person gets in the room: the one asked for, or a numbered variant when it is taken.
      const wanted = new URL(request.url ?? '/', 'http://localhost').searchParams.get('wanted') ?? '';
      if (!NAME.test(wanted)) {
        json(response, 400, { error: 'A name is 1-32 letters, digits, _ . or -.' });
        return true;
      }
      json(response, 200, { name: freeName(live.memberInfo().keys(), wanted) });
      return true;
    }
    if (match[2] === 'answers' && request.method === 'POST') {
      const body = (await readJson(request).catch(() => undefined)) as { answers?: unknown } | undefined;
      const policy = body?.answers;
      if (!ANSWER_POLICIES.includes(policy as AnswerPolicy)) {
        json(response, 400, { error: `answers must be one of ${ANSWER_POLICIES.join(', ')}.` });
        return true;
      }
      answers.set(room, policy as AnswerPolicy);
      const notice: AnswersNotice = {
        notice: 'answers',
        answers: policy as AnswerPolicy,
        text: POLICY_TEXT[policy as AnswerPolicy],
      };
      await live.broadcast(notice);
      json(response, 200, { room, answers: policy });
      return true;
    }
    json(response, 405, { error: 'Method not allowed.' });
    return true;
  };
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    api(request, response, path).then(
      (handled) => {
        if (handled || servePage(page, request, response)) return;
        response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end('Not Found');
      },
      (error: unknown) => {
        if (!response.headersSent) json(response, 500, { error: (error as Error).message });
        else response.destroy();
      },
    );
  });
  await listen(server, options.port ?? 8080, host);
  const durable = durableEnvironment(env, options.durable);
  // The runtime's metrics (connections, broadcasts, rooms, AI runs) in a registry of the sample's own: the
  // dashboard reads it, `/admin/metrics` serves it to Prometheus.
  const registry = new Registry();
  // Traces (connect, message, broadcast, AI run, tool call) when the OpenTelemetry variables ask for them.
  const traces = startTracing(env);
  const atmosphere = await createAtmosphere({
    server,
    providers: [metrics({ registry }), ...(traces ? [tracing({ tracer: traces.tracer })] : [])],
    interceptors: [admin.interceptor()],
    ...(options.logger ? { logger: options.logger } : {}),
    env: durable.env,
    ...(options.reconnectGraceMs === undefined ? {} : { reconnectGraceMs: options.reconnectGraceMs }),
    autoload: { root: new URL('..', import.meta.url).pathname },
  });
  const runtime = options.runtime ?? atmosphere.provider('agent-runtime');
  if (!runtime) throw new Error('No AI runtime could start; see the log above.');
  model = {
    runtime: runtime.name,
    demo: runtime.name === 'demo',
    model: runtime instanceof OpenAiCompatibleRuntime ? runtime.config.model : undefined,
  };
  const manager = createRooms(atmosphere, {
    path: '/rooms',
    history: 200,
    autoCreate: false,
    // One person per name in a room: a join with a name someone else holds is refused (the page asks
    // `/api/rooms/<room>/name` first and gets a free variant). The same connection joining again is fine.
    authorize: ({ action, room, member, resource }) => {
      if (action !== 'join') return true;
      const existing = started.rooms?.find(room);
      if (existing === undefined) return true;
      const holder = [...existing.memberInfo().keys()].find(
        (id) => id.toLowerCase() === member.id.toLowerCase(),
      );
      return holder === undefined || existing.connectionMember(resource)?.id === holder;
    },
  });
  started.rooms = manager;
  const members: LlmRoomMember[] = [];
  for (const name of ROOMS) {
    const room = manager.room(name);
    const assistant = llmRoomMember({
      id: 'assistant',
      metadata: { name: 'Assistant' },
      runtime,
      systemPrompt: ASSISTANT_PROMPT,
      // Mentions always; a message that mentions nobody only when the room answers questions and it is one.
      answers: 'default',
      answerWhen: ({ room: where, text }) => answers.get(where) === 'questions' && isQuestion(text),
      role: watcherRole,
    });
    const poet = llmRoomMember({
      id: 'poet',
      metadata: { name: 'Poet' },
      runtime,
      systemPrompt: POET_PROMPT,
      role: watcherRole,
    });
    room.joinVirtual(assistant);
    room.joinVirtual(poet);
    members.push(assistant, poet);
  }
  // The one-to-one assistant (`/ask/`): its page reports paint timing, the dashboard's token-to-screen figures.
  aiEndpoint(atmosphere, { path: ASK_PATH, runtime, systemPrompt: ASSISTANT_PROMPT });
  atmosphere.handle(
    '/admin/metrics',
    metricsHandler(registry, { authorize: (r) => admin.allows(r.headers) }),
  );
  const dashboard = startDashboard(atmosphere, registry, {
    ...(options.dashboardIntervalMs === undefined ? {} : { intervalMs: options.dashboardIntervalMs }),
  });
  const address = server.address() as AddressInfo;
  const url = `http://${host}:${address.port}/`;
  return {
    atmosphere,
    rooms: manager,
    url,
    model,
    durableFile: durable.file,
    answersOf: (room) => answers.get(room),
    admin: {
      url: new URL('admin/', url).toString(),
      generatedToken: admin.generated ? admin.token : undefined,
    },
    registry,
    dashboard,
    tracing: traces,
    async close() {
      dashboard.close();
      for (const member of members) await member.close();
      manager.close();
      await atmosphere.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await traces?.close();
    },
  };
}

/**
 * Who may stop (and steer) the AI members' answers: everyone in the room, except members who joined as watchers
 * (`?watch=1`): they follow the answers as viewers. A real application decides from `principal` (what its auth
 * established), not from what the client says about itself.
 */
function watcherRole({ member }: RoomRoleContext): 'viewer' | 'owner' {
  return member.metadata['watching'] === true ? 'viewer' : 'owner';
}
