import type { AiRole, AttachmentLimits } from '@atmosphere/protocol';
import type { AtmosphereResource, Logger } from '@atmosphere/runtime';
import type { RoomMember, RoomMessage, RoomMetadata } from '@atmosphere/rooms';
import type { AiInterceptor } from '../pipeline/ai-interceptor.ts';
import type { OpenAiRuntimeOptions } from '../runtimes/openai/openai-runtime.ts';
import type { AgentRuntime, PromptCacheHint } from '../spi/agent-runtime.ts';
import type { Tool } from '../tools/tool.ts';

/**
 * Which room messages an AI member answers (it remembers all of them as context, whatever this says):
 * - `mentioned`: only messages that mention it (`@id`, or one of its `aliases`);
 * - `default`: those, and messages that mention no member of the room at all. When several members of a room
 *   are `default`, only the one that joined first answers unaddressed messages: one question, one answer;
 * - `all`: every message of a human member, mentioned or not (a translator, a moderator). It answers
 *   alongside the member a message addresses, so give this mode to at most one member of a room.
 *
 * In every mode, messages of virtual members (other AI members, bots) and of the server (no `from`) are not
 * answered, so two AI members never talk to each other in a loop (`answerVirtualMembers` changes that).
 */
export type RoomAnswerMode = 'mentioned' | 'default' | 'all';

/** A message an AI member would answer without being mentioned, for `answerWhen` to decide on. */
export interface RoomUnaddressedMessage {
  /** The room's name. */
  readonly room: string;
  /** The member's id. */
  readonly memberId: string;
  /** Who said it. */
  readonly from: string;
  /** Its text (what `textOf` read). */
  readonly text: string;
  readonly message: RoomMessage;
}
/** What a question does while an AI member answers another in the room (see `whileAnswering`). */
export type RoomWhileAnswering = 'queue' | 'latest' | 'merge' | 'drop' | 'debounce';

/** What the system prompt may depend on (`systemPrompt` as a function). */
export interface RoomPromptContext {
  /** The room's name. */
  readonly room: string;
  /** The member's id. */
  readonly memberId: string;
}

/** What the `role` hook gets: a connection of a room member, and the AI member it is about. */
export interface RoomRoleContext {
  /** The room's name. */
  readonly room: string;
  /** The AI member's id. */
  readonly memberId: string;
  /** The member the connection joined as. */
  readonly member: RoomMember;
  readonly resource: AtmosphereResource;
  /** What the auth hook established about the connection (`resource.principal`). */
  readonly principal: unknown;
}

/** The `data` of the `message` an AI member says when an answer completes (and the room keeps in history). */
export interface LlmRoomReply {
  /** The whole answer. */
  readonly text: string;
  /** The `sessionId` of the AI frames that streamed it: a client replaces its streamed bubble with this message. */
  readonly sessionId: string;
  /** The question it answers: its author and, when the room keeps history, its id. */
  readonly replyTo: LlmReplyTarget;
}

/** The message an answer replies to. */
export interface LlmReplyTarget {
  readonly from: string;
  readonly id?: number;
}

/** How one question ended (`onAnswer`). */
export interface RoomAnswer {
  readonly room: string;
  /** The AI member that answered. */
  readonly memberId: string;
  /** The room message it answered. */
  readonly question: RoomMessage;
  /** What the model was asked: the question's text without the mention. */
  readonly prompt: string;
  /** The `sessionId` of the answer's AI frames. */
  readonly sessionId: string;
  /**
   * `complete`: answered (and said, unless the text was empty); `error`: the model or a hook failed (an `error`
   * frame went out), or the answer streamed but its reply could not be said (the room's log refused it: `error`
   * is an `AtmosphereError` with that code, `LOG_FAILED`, no `reply`, and every connection of the room got a room
   * `error` frame with the code, `memberId` and `sessionId`); `cancelled`: the member left or the room was destroyed; `refused`: the member was busy
   * and its queue full (an `error` frame with code `TOO_MANY_PROMPTS` went out), or busy with policy `drop`
   * (`BUSY`); `stopped`: a newer question stopped it (policy `latest`).
   */
  readonly status: 'complete' | 'stopped' | 'error' | 'cancelled' | 'refused';
  /** The text streamed (the whole answer when complete, what came before the failure otherwise). */
  readonly text: string;
  /** The `message` said with the answer (with its history id), when one was said. */
  readonly reply?: RoomMessage;
  /** The failure, when not complete. */
  readonly error?: unknown;
}

/** Options of {@link LlmRoomMember}. Only `id` is required. */
export interface LlmRoomMemberOptions {
  /** The member id (1-128 characters of `A-Z a-z 0-9 _ . : @ + -`); `@id` addresses it. */
  readonly id: string;
  /** Shown to every member (`join_ack`, `presence`). `{ ai: true }` is added so clients can tell AI members apart. */
  readonly metadata?: RoomMetadata;
  /**
   * The model behind it. Default: the built-in OpenAI-compatible runtime when it is configured (`LLM_API_KEY`,
   * or `LLM_MODE=local`), else the demo model — decided once, at its first answer, and logged. To use the
   * runtime the application's registry selected: `runtime: atmosphere.provider('agent-runtime')`.
   */
  readonly runtime?: AgentRuntime | undefined;
  /**
   * Without `runtime`: the built-in OpenAI-compatible client with these options (`{ model, apiKey, baseUrl }`,
   * or `{ mode: 'local' }` for Ollama; unset ones are read from the environment as usual).
   */
  readonly client?: OpenAiRuntimeOptions | undefined;
  /** A model name overriding the runtime's configured one. */
  readonly model?: string | undefined;
  /**
   * Instructions for the model. A string is followed by a short note saying it is a member of the room and how
   * room messages are shown; a function returns the whole system prompt for a room.
   */
  readonly systemPrompt?: string | ((context: RoomPromptContext) => string) | undefined;
  /** Which messages it answers. Default `mentioned`. */
  readonly answers?: RoomAnswerMode;
  /**
   * Narrows the messages it answers without being mentioned (the unaddressed ones of a `default` member, the
   * unmentioned ones of an `all` member): return false to let one pass unanswered (it is still remembered). A
   * mention is always answered. Called synchronously, in room order, with each such message — a per-room
   * setting (`only questions in #help`, `off` in #random) reads its room here. A throw is logged and the message
   * is not answered. Default: every such message is answered.
   */
  readonly answerWhen?: ((message: RoomUnaddressedMessage) => boolean) | undefined;
  /** Other names that address it (`@Ada` for id `ada-gpt`), case-insensitive like the id. */
  readonly aliases?: readonly string[];
  /** Room messages remembered per room and sent as context with each question. Default 20; 0 sends none. */
  readonly memory?: number;
  /**
   * Questions that wait while it answers one (per room): answers go one at a time, in arrival order. A question
   * beyond this is refused at once with an `error` frame (`TOO_MANY_PROMPTS`). Default 5; 0 drops every
   * question that arrives while it is busy.
   */
  readonly maxQueued?: number;
  /**
   * What a question does while it answers another in the same room (the endpoints' `whileAnswering`, without
   * `parallel`: a member answers one question at a time per room):
   * - `queue` (default): answered after the running one, in order (up to `maxQueued`);
   * - `latest`: the running answer is stopped (its text so far is said) and the newest is answered, the
   *   waiting ones dropped;
   * - `merge`: the questions asked meanwhile are folded into one, answered after the running one (as many as
   *   their images fit in one prompt, `attachments`; the rest are folded into the next);
   * - `drop`: refused at once with an `error` frame (`BUSY`);
   * - `debounce`: every question waits for `debounceMs` of quiet, then the questions asked meanwhile are
   *   folded into one, answered after any running one.
   */
  readonly whileAnswering?: RoomWhileAnswering;
  /** The quiet `debounce` waits for. Default 500 ms. */
  readonly debounceMs?: number;
  /** Answer messages of virtual members (bots, other AI members) too. Default false. */
  readonly answerVirtualMembers?: boolean;
  /**
   * Tools the model may call. A tool that requires approval asks the room: every connection sees its
   * `approval-required` event, and the first `approval` frame from a connection whose role is `approver` or
   * `owner` decides (others are refused with `FORBIDDEN`; a second answer gets `UNKNOWN_APPROVAL`). Undecided
   * after `approvalTimeoutMs`, it is denied.
   */
  readonly tools?: readonly Tool[];
  /** How long a tool approval waits for its answer before it is denied. Default 300 000 ms (5 min). */
  readonly approvalTimeoutMs?: number;
  /** AI interceptors around every answer (RAG, guardrails, cost); they run after the room context is set. */
  readonly interceptors?: readonly AiInterceptor[];
  /** Most consecutive tool rounds. Default 5. */
  readonly maxToolRounds?: number;
  /**
   * How the provider may cache the stable prefix of its questions (the room's system prompt, tools, memory), as
   * `aiEndpoint({ promptCache })`: `{ key: 'room:lobby', retention: 'short' }` — sent by runtimes that declare
   * `prompt-caching`; interceptors may change it per question (`AiRequest.promptCache`). The key has 1 to 64
   * characters; the retention is `short` or `long`.
   */
  readonly promptCache?: PromptCacheHint | undefined;
  /**
   * Limits on the images a question may carry — its `data` object's `attachments`, in the JSON prompt's form
   * (`[{ "type": "image", "mediaType": "image/png", "data": "<base64>" }]`) — as `aiEndpoint({ attachments })`:
   * `maxCount` (default 4), `maxBytes` (512 KiB) and `maxTotalBytes` (640 KiB), decoded; `{ maxCount: 0 }`
   * refuses every image. Images are checked as an endpoint checks them (allow-listed media types, strict base64,
   * the bytes' signature); a question whose images do not pass gets an `error` frame (`INVALID_ATTACHMENT`), and
   * one with images for a runtime that does not declare `vision` too (`UNSUPPORTED_ATTACHMENT`) — never an
   * answer without them. The images go with that question only: the room's memory keeps its text.
   */
  readonly attachments?: Partial<AttachmentLimits>;
  /** The text of a room message (default: a string, or the `text`/`prompt`/`message`/`content` of an object). */
  readonly textOf?: (message: RoomMessage) => string | undefined;
  /** Called once per question it took up, when that question is done with. Must not throw (a throw is logged). */
  readonly onAnswer?: (answer: RoomAnswer) => void;
  /**
   * What each connection of the room may do to this member's answers (PROTOCOL.md §8, turns): `viewer` only
   * follows them; `steerer`, `approver` and `owner` may also stop and steer them; `approver` and `owner` may
   * answer the approvals of its tools. Asked once per connection
   * (when it joins the room, or this member joins), usually from `principal`; each connection is told its role
   * (`ai-role` frame). Enforced on every `stop`, `steer` and `approval`: a viewer's is refused with an `error` frame
   * (`FORBIDDEN`) and changes nothing. A throw or an unknown answer gives `viewer`. Default: `owner` for every
   * connection (a room is one shared conversation: anyone in it may stop or steer the answer everyone reads).
   */
  readonly role?: ((context: RoomRoleContext) => AiRole) | undefined;
  /** Longest steer guidance accepted, in characters. Default 4000. */
  readonly maxSteerLength?: number;
  /** Default: the room's logger. */
  readonly logger?: Logger;
}
