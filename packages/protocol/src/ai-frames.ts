/*
 * AI frames (PROTOCOL.md §7): JSON text messages, each with the `sessionId` of its prompt and a `seq` counting
 * from 1 within that session. Servers build them with the functions below (once per frame, as text); clients
 * read them with `parseAiFrame`.
 */

/** The typed events (`{"event":<name>,"data":…}` frames) and the shape of each one's `data`. */
export interface AiEventData {
  'text-delta': { text: string };
  'text-complete': { fullText: string };
  'tool-start': { toolName: string; arguments: Record<string, unknown>; toolCallId?: string };
  'tool-result': { toolName: string; result: unknown; toolCallId?: string };
  'tool-error': { toolName: string; error: string; toolCallId?: string };
  'agent-step': { stepName: string; description?: string; data?: Record<string, unknown> };
  'structured-field': { fieldName: string; value: unknown; schemaType?: string };
  'entity-start': { typeName: string; jsonSchema?: Record<string, unknown> };
  'entity-complete': { typeName: string; entity: unknown };
  'routing-decision': { fromBackend?: string; toBackend: string; reason?: string };
  progress: { message: string; percentage?: number };
  handoff: { fromAgent: string; toAgent: string; reason?: string };
  complete: { summary?: string; usage?: Record<string, number> };
  'plan-update': { steps: { title: string; status: 'pending' | 'running' | 'done' | 'failed' }[] };
  'approval-required': {
    approvalId: string;
    toolName: string;
    arguments: Record<string, unknown>;
    message: string;
    /** Seconds the server waits for the answer. */
    expiresIn: number;
    toolCallId?: string;
  };
  /**
   * The decision on an `approval-required`, in the run's frames (and its log): a reloaded page, another tab or
   * another device replaying the run sees the approval was answered and is not asked again.
   */
  'approval-answered': {
    approvalId: string;
    approved: boolean;
    /** Why it was not approved. */
    reason?: 'denied' | 'malformed' | 'timeout' | 'cancelled';
    toolCallId?: string;
  };
  'reasoning-delta': { text: string };
  'reasoning-complete': { text: string };
  citation: { url?: string; title?: string; snippet?: string; source?: string };
  /**
   * A steer (guidance sent while the answer runs) acknowledged: `accepted` when the server took it (with its
   * text), `applied` when it reached the model at a step boundary, `unused` when the answer ended before one.
   */
  steer: { steerId: string; status: 'accepted' | 'applied' | 'unused'; text?: string };
}

/** Every event name of PROTOCOL.md §7. */
export type AiEventName = keyof AiEventData;

/** The event names, in protocol order. */
export const AI_EVENT_NAMES: readonly AiEventName[] = [
  'text-delta',
  'text-complete',
  'tool-start',
  'tool-result',
  'tool-error',
  'agent-step',
  'structured-field',
  'entity-start',
  'entity-complete',
  'routing-decision',
  'progress',
  'handoff',
  'complete',
  'plan-update',
  'approval-required',
  'approval-answered',
  'reasoning-delta',
  'reasoning-complete',
  'citation',
  'steer',
];

/** A typed event, as a server emits it: `{ event: 'tool-start', data: { toolName, arguments } }`. */
export type AiEvent = {
  [K in AiEventName]: { readonly event: K; readonly data: AiEventData[K] };
}[AiEventName];

interface FrameBase {
  /** A fresh id per prompt. */
  readonly sessionId: string;
  /** Counts from 1 within a session. */
  readonly seq: number;
}

/**
 * One AI frame as a reader sees it: `event` frames are `type: 'event'` with the event's name (a server may
 * send names beyond {@link AiEventName}; their data is not checked).
 */
export type AiFrame = FrameBase &
  (
    | { readonly type: 'streaming-text'; readonly data: string }
    | { readonly type: 'progress'; readonly data: string }
    | { readonly type: 'metadata'; readonly key: string; readonly value: unknown }
    | {
        readonly type: 'complete';
        /** The summary, when the server gave one. */
        readonly data: string | undefined;
        /** `stopped` when the user stopped the run (the text so far stands). */
        readonly reason: 'stopped' | undefined;
        /**
         * Token counts so far, on a `stopped` frame (`input`, `output`, `cachedInput`, `total`): the model calls
         * that had reported theirs before the stop.
         */
        readonly usage: Readonly<Record<string, number>> | undefined;
      }
    | {
        readonly type: 'error';
        readonly data: string;
        /** The machine-readable code (`LLM_RATE_LIMIT`, `CANCELLED`, …), when the server sent one. */
        readonly code: string | undefined;
      }
    | { readonly type: 'event'; readonly event: AiEventName | (string & {}); readonly data: unknown }
  );

/** An `event` frame of a known event, its data typed (see {@link isAiEvent}). */
export type AiEventFrame<K extends AiEventName = AiEventName> = FrameBase & {
  readonly type: 'event';
  readonly event: K;
  readonly data: AiEventData[K];
};

/**
 * True for an `event` frame of that event. The data is typed by the event's name; a reader that does not
 * trust the server still checks it.
 */
export function isAiEvent<K extends AiEventName>(
  frame: AiFrame,
  name: K,
): frame is AiFrame & AiEventFrame<K> {
  return frame.type === 'event' && frame.event === name;
}

/** A frame that ends its session: `complete` or `error`. */
export type TerminalAiFrame = Extract<AiFrame, { type: 'complete' | 'error' }>;

/** True for a `complete` or `error` frame. */
export function isTerminalFrame(frame: AiFrame): frame is TerminalAiFrame {
  return frame.type === 'complete' || frame.type === 'error';
}

/** Metadata key of the frame that starts each run; its value is what a client re-sends to re-attach. */
export const RUN_ID_METADATA_KEY = 'X-Atmosphere-Run-Id';
/** Prefix of the approval answers a client sends: `/__approval/<id>/approve|deny`. */
export const APPROVAL_PREFIX = '/__approval/';
/** Prefix of the stop request a client sends to stop a run: `/__stop/<runId>`. */
export const STOP_PREFIX = '/__stop/';

/** Prefix of the guidance a client sends to a running answer: `/__steer/<runId>/<steerId> <text>`. */
export const STEER_PREFIX = '/__steer/';

/**
 * What a connection may do to an AI run (or a room's AI member): `viewer` only follows it; `steerer` also
 * steers and stops it; `approver` also answers its tool approvals; `owner` (the asker, by default) may do all.
 */
export type AiRole = 'viewer' | 'steerer' | 'approver' | 'owner';

/** Every role, least to most. */
export const AI_ROLES: readonly AiRole[] = ['viewer', 'steerer', 'approver', 'owner'];

/** The plain message that approves (optionally with edited arguments) or denies a tool call. */
export function approvalMessage(
  approvalId: string,
  decision: 'approve' | 'deny',
  editedArguments?: Readonly<Record<string, unknown>>,
): string {
  const base = `${APPROVAL_PREFIX}${approvalId}/${decision}`;
  return decision === 'approve' && editedArguments !== undefined
    ? `${base} ${JSON.stringify({ arguments: editedArguments })}`
    : base;
}

/** The plain message that stops a run: the server aborts the model call and the text so far stands. */
export function stopMessage(runId: string): string {
  return `${STOP_PREFIX}${runId}`;
}

const STEER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The plain message that adds guidance to a running answer (`steerId`: the client's id for it, echoed by the
 * `steer` events that acknowledge it; `[A-Za-z0-9_-]{1,64}`).
 */
export function steerMessage(runId: string, steerId: string, text: string): string {
  return `${STEER_PREFIX}${runId}/${steerId} ${text}`;
}

/** A steer message read: `undefined` when the text is not one; `text` may be empty (the server refuses it). */
export function parseSteerMessage(
  message: string,
): { readonly runId: string; readonly steerId: string; readonly text: string } | undefined {
  if (!message.startsWith(STEER_PREFIX)) return undefined;
  const space = message.indexOf(' ', STEER_PREFIX.length);
  const head = message.slice(STEER_PREFIX.length, space < 0 ? undefined : space);
  const slash = head.lastIndexOf('/');
  const runId = slash < 0 ? head : head.slice(0, slash);
  const steerId = slash < 0 ? '' : head.slice(slash + 1);
  if (runId === '' || !STEER_ID.test(steerId)) return undefined;
  return { runId, steerId, text: space < 0 ? '' : message.slice(space + 1).trim() };
}

/**
 * `{"type":"ai-role","runId":…,"role":…}`: what this connection may do to a run, sent to it alone when it
 * joins the run (the asker, a client re-attaching with the run id, a room member). Not an AI frame (no seq).
 */
export function roleMessage(runId: string, role: AiRole): string {
  return `{"type":"ai-role","runId":${JSON.stringify(runId)},"role":"${role}"}`;
}

/** Reads a {@link roleMessage}; `undefined` when the text is not one. */
export function parseRoleMessage(
  text: string,
): { readonly runId: string; readonly role: AiRole } | undefined {
  if (!text.startsWith('{"type":"ai-role"')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const raw = value as Record<string, unknown>;
  const role = raw['role'];
  if (typeof raw['runId'] !== 'string' || !AI_ROLES.includes(role as AiRole)) return undefined;
  return { runId: raw['runId'], role: role as AiRole };
}

// Frames are built as text, once per frame: the JSON of `data` is the only part that needs escaping, and
// `sessionId` is generated by the server (a UUID), so it is safe as it is.
function tail(sessionId: string, seq: number): string {
  return `,"sessionId":"${sessionId}","seq":${seq}}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return 'null';
  }
}

/** `{"type":"streaming-text","data":…}` */
export function textFrame(text: string, sessionId: string, seq: number): string {
  return `{"type":"streaming-text","data":${JSON.stringify(text)}${tail(sessionId, seq)}`;
}

/** `{"type":"progress","data":…}` */
export function progressFrame(message: string, sessionId: string, seq: number): string {
  return `{"type":"progress","data":${JSON.stringify(message)}${tail(sessionId, seq)}`;
}

/** `{"type":"metadata","key":…,"value":…}`; a value JSON cannot encode becomes `null`. */
export function metadataFrame(key: string, value: unknown, sessionId: string, seq: number): string {
  return `{"type":"metadata","key":${JSON.stringify(key)},"value":${safeJson(value)}${tail(sessionId, seq)}`;
}

/** `{"type":"complete"[,"data":summary][,"reason":"stopped"][,"usage":{…}]}` */
export function completeFrame(
  summary: string | undefined,
  sessionId: string,
  seq: number,
  reason?: 'stopped',
  usage?: Readonly<Record<string, number>>,
): string {
  const data = summary === undefined ? '' : `,"data":${JSON.stringify(summary)}`;
  const why = reason === undefined ? '' : `,"reason":"${reason}"`;
  const counts = usage === undefined ? '' : `,"usage":${safeJson(usage)}`;
  return `{"type":"complete"${data}${why}${counts}${tail(sessionId, seq)}`;
}

function readUsage(value: unknown): Readonly<Record<string, number>> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const usage: Record<string, number> = {};
  for (const [key, count] of Object.entries(value as Record<string, unknown>))
    if (typeof count === 'number' && Number.isFinite(count) && key !== '__proto__') usage[key] = count;
  return usage;
}

/** `{"type":"error","data":message[,"code":code]}` */
export function errorFrame(
  message: string,
  code: string | undefined,
  sessionId: string,
  seq: number,
): string {
  const codePart = code === undefined ? '' : `,"code":${JSON.stringify(code)}`;
  return `{"type":"error","data":${JSON.stringify(message)}${codePart}${tail(sessionId, seq)}`;
}

/** `{"event":name,"data":…}` */
export function eventFrame(event: AiEvent, sessionId: string, seq: number): string {
  return `{"event":${JSON.stringify(event.event)},"data":${safeJson(event.data)}${tail(sessionId, seq)}`;
}

const TYPES: ReadonlySet<string> = /* @__PURE__ */ new Set([
  'streaming-text',
  'progress',
  'metadata',
  'complete',
  'error',
]);

/**
 * Reads an AI frame from a message's text; `undefined` when the text is not one (not JSON, no
 * `sessionId`/`seq`, an unknown type) — such messages are the application's own. Checks the envelope, not an
 * event's data.
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
  if (typeof raw['event'] === 'string')
    return { type: 'event', event: raw['event'], data: raw['data'], sessionId, seq };
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
        usage: readUsage(raw['usage']),
        sessionId,
        seq,
      };
    default:
      return {
        type: 'error',
        data: typeof raw['data'] === 'string' ? raw['data'] : 'Unknown error',
        code: typeof raw['code'] === 'string' ? raw['code'] : undefined,
        sessionId,
        seq,
      };
  }
}
