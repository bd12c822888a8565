import { randomUUID } from 'node:crypto';
import { type AiRole, approvalMessage, type AttachmentLimits } from '@atmosphere/protocol';
import { AtmosphereError, type Logger } from '@atmosphere/runtime';
import type {
  LeaveReason,
  Room,
  RoomConnection,
  RoomTimingSource,
  RoomTurn,
  RoomTurnPlace,
  RoomTurnRefusal,
  RoomMessage,
  RoomView,
  RoomMetadata,
  VirtualMemberContext,
  VirtualRoomMember,
} from '@atmosphere/rooms';
import { aiError, cancelledError, isAbortError } from '../errors.ts';
import type { AiInterceptor, AiResponse } from '../pipeline/ai-interceptor.ts';
import { attachmentLimits, foldableCount } from '../pipeline/attachment-limits.ts';
import { checkPromptCacheOption } from '../pipeline/prompt-cache.ts';
import { runAgent } from '../pipeline/run-agent.ts';
import { Steering } from '../pipeline/steering.ts';
import { openAiRuntime } from '../runtimes/openai/openai-runtime.ts';
import { redactSecrets } from '../runtimes/openai/redact.ts';
import type { AgentRuntime } from '../spi/agent-runtime.ts';
import type { ChatMessage } from '../spi/chat.ts';
import { createStreamingSession, FrameStreamingSession } from '../streaming/streaming-session.ts';
import type {
  LlmReplyTarget,
  LlmRoomMemberOptions,
  LlmRoomReply,
  RoomAnswer,
  RoomAnswerMode,
  RoomUnaddressedMessage,
  RoomWhileAnswering,
} from './llm-room-member-options.ts';
import { isAddressed } from './addressing.ts';
import { stripMentions } from './mentions.ts';
import { roomMessageAttachments, roomMessageText } from './message-text.ts';
import { RoomFrameSink } from './room-frame-sink.ts';
import {
  addSeat,
  removeSeat,
  type RoomQuestion,
  type RoomSeat,
  SeatApprovals,
  type SeatOwner,
} from './room-seat.ts';
import { RoomTranscript } from './room-transcript.ts';
import { AiTelemetry } from '../telemetry/ai-telemetry.ts';

/** Runs `answer` once the claim is won (and the member still seated); a failed claim is logged, not answered. */
function claimed(
  mine: Promise<boolean>,
  context: VirtualMemberContext,
  logger: Logger,
  answer: () => void,
): void {
  mine.then(
    (won) => {
      if (won && context.active) answer();
    },
    (error: unknown) =>
      logger.error(
        `room ${context.room.name}: a message could not be claimed across the cluster; not answered`,
        {
          error,
        },
      ),
  );
}

/** Metadata key of the first frame of every answer: the question it answers (`{ from, id? }`). */
export const REPLY_TO_METADATA_KEY = 'room.replyTo';

/** How many ended answers each seat remembers, so that a turn crossing the end of one is told apart. */
const ENDED_KEPT = 32;

const MODES: readonly RoomAnswerMode[] = ['mentioned', 'default', 'all'];
const redact = (text: string): string => redactSecrets(text, []);

/**
 * An AI member of `@atmosphere/rooms` rooms: it sits in a room like a user (listed, announced, addressed with
 * `@id`) and answers the questions addressed to it (see {@link RoomAnswerMode}) with a model. Seat it with
 * `room.joinVirtual(member)` (or `member.join(room)`); one instance may sit in several rooms.
 *
 * Each answer, everyone in the room sees, in room order, through the room's broadcaster (filters, the
 * missed-message cache and replay, backpressure and clustering apply):
 * 1. `{"type":"typing","room":…,"memberId":<id>,"typing":true}`;
 * 2. the answer's AI frames (PROTOCOL.md §7) tagged with the room and the member —
 *    `{"room":…,"from":<id>,"type":"metadata","key":"room.replyTo","value":{"from":"alice","id":7},"sessionId":…,"seq":1}`,
 *    then what the runtime streams (`metadata` `ai.model`, `streaming-text` tokens, `progress`, tool events,
 *    token counts), and the terminal `complete` or `error` frame;
 * 3. `{"type":"typing",…,"typing":false}`;
 * 4. when complete, the answer as an ordinary `message` from the member, `data` an {@link LlmRoomReply}
 *    (`{text, sessionId, replyTo}`), kept in the room's history for late joiners. When the room's log refuses
 *    it (`LOG_FAILED`: it is then sent to nobody), every connection of the room, on every node, gets a room
 *    `error` frame with that code, the answer's `sessionId` and the member's id instead, outside the room's
 *    stream (`context.sendError`), and the answer ends as an `error` (`onAnswer`).
 *
 * Contract: one answer at a time per room, questions queued in arrival order (`maxQueued`, beyond which they
 * are refused with an `error` frame); the recent room messages (`memory`) go with each question as context;
 * a failure ends the answer with an `error` frame and the member keeps answering; when it leaves the room
 * (or the room is destroyed) the answer in progress is cancelled and its upstream model request aborted.
 * Direct messages to it are neither answered nor remembered (an answer is streamed to the whole room).
 */
export class LlmRoomMember implements VirtualRoomMember, SeatOwner {
  readonly id: string;
  readonly metadata: RoomMetadata;
  readonly answers: RoomAnswerMode;
  readonly names: readonly string[];
  readonly answerWhen: ((message: RoomUnaddressedMessage) => boolean) | undefined;
  readonly #options: LlmRoomMemberOptions;
  readonly #memory: number;
  readonly #maxQueued: number;
  readonly #attachmentLimits: AttachmentLimits;
  readonly #seats = new Map<VirtualMemberContext, RoomSeat>();
  #client: AgentRuntime | undefined;
  #running = 0;
  #idle: (() => void)[] = [];

  /** Throws `INVALID_OPTION` for a missing id, an unknown `answers` mode or a negative bound. */
  constructor(options: LlmRoomMemberOptions) {
    if (typeof options.id !== 'string' || options.id === '') {
      throw new AtmosphereError(
        'INVALID_OPTION',
        'LlmRoomMember needs an `id` (the member id that `@id` addresses).',
      );
    }
    const answers = options.answers ?? 'mentioned';
    if (!MODES.includes(answers)) {
      throw new AtmosphereError(
        'INVALID_OPTION',
        `LlmRoomMember ${options.id}: \`answers\` must be one of ${MODES.join(', ')}; got ${String(answers)}.`,
      );
    }
    this.#memory = bound(options.memory, 20, 'memory', options.id);
    this.#maxQueued = bound(options.maxQueued, 5, 'maxQueued', options.id);
    this.#attachmentLimits = attachmentLimits(options.attachments, `LlmRoomMember ${options.id}`);
    checkPromptCacheOption(options.promptCache, `LlmRoomMember ${options.id}`);
    if (
      options.approvalTimeoutMs !== undefined &&
      (!Number.isSafeInteger(options.approvalTimeoutMs) ||
        options.approvalTimeoutMs < 1 ||
        options.approvalTimeoutMs > MAX_TIMER_MS)
    )
      throw new AtmosphereError(
        'INVALID_OPTION',
        `LlmRoomMember ${options.id}: \`approvalTimeoutMs\` must be an integer from 1 to ${MAX_TIMER_MS}; got ${options.approvalTimeoutMs}.`,
      );
    this.id = options.id;
    this.answers = answers;
    this.metadata = { ai: true, ...options.metadata };
    this.names = [
      options.id,
      ...(options.aliases ?? []).filter((alias) => typeof alias === 'string' && alias !== ''),
    ];
    if (options.answerWhen !== undefined && typeof options.answerWhen !== 'function') {
      throw new AtmosphereError(
        'INVALID_OPTION',
        `LlmRoomMember ${options.id}: \`answerWhen\` must be a function.`,
      );
    }
    this.answerWhen = options.answerWhen;
    this.#options = options;
  }

  /** Seats it in `room` (same as `room.joinVirtual(member)`). Throws as `joinVirtual` does (`CONFLICT`, `CLOSED`). */
  join(room: Room): VirtualMemberContext {
    return room.joinVirtual(this);
  }

  /**
   * Leaves `room` politely: the answer in progress ends with an `error` frame (`CANCELLED`) and a cleared
   * typing indicator that every connection still receives, queued questions are dropped, the upstream request
   * is aborted, then the member leaves. (`room.leaveVirtual(member)` leaves at once: connections see the
   * presence `leave` and no terminal frame.) Returns false when it was not in the room.
   */
  leave(room: RoomView): boolean {
    for (const seat of this.#seats.values()) {
      if (seat.context.room !== room) continue;
      seat.queue.length = 0;
      seat.quiet.length = 0;
      clearTimeout(seat.timer);
      const current = seat.current;
      if (current !== undefined) {
        current.cancel(cancelledError(`${this.id} left room ${room.name}`));
        seat.context.typing(false).catch(() => undefined);
      }
      seat.context.leave();
      return true;
    }
    return false;
  }

  /** Leaves every room it sits in, politely (see {@link leave}); resolves once its answers have settled. */
  async close(): Promise<void> {
    for (const seat of [...this.#seats.values()]) this.leave(seat.context.room);
    await this.idle();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The rooms it sits in. */
  get rooms(): RoomView[] {
    return Array.from(this.#seats.values(), (seat) => seat.context.room);
  }

  /** Resolves when no answer is in progress or queued in any room (rejects if `signal` aborts first). */
  idle(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#idle.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------------------------------ room hooks

  /** Called by the room once it is seated (after its presence `join` went out). */
  onJoin(context: VirtualMemberContext): void {
    this.#seat(context);
  }

  /** Called by the room with each message, in room order: remembered, and answered when addressed to it. */
  onMessage(message: RoomMessage, context: VirtualMemberContext): void {
    try {
      this.#receive(message, context);
    } catch (error) {
      this.#logger(context).error(
        `room ${context.room.name}: AI member ${this.id} could not take a message`,
        { error },
      );
    }
  }

  /** Called by the room when it left (or the room was destroyed); `context.signal` aborted the answer in progress. */
  onLeave(context: VirtualMemberContext, _reason: LeaveReason): void {
    const seat = this.#seats.get(context);
    if (seat === undefined) return;
    this.#seats.delete(context);
    removeSeat(seat);
    seat.queue.length = 0;
    seat.quiet.length = 0;
    clearTimeout(seat.timer);
    seat.transcript.clear();
    seat.approvals.close();
  }

  /**
   * The role of a room connection towards its answers (`role` option; default `owner`: everyone in the room
   * may stop and steer them). A throw or an unknown answer gives `viewer` (the room logs it).
   */
  roleOf(connection: RoomConnection, context: VirtualMemberContext): AiRole {
    const hook = this.#options.role;
    if (hook === undefined) return 'owner';
    return hook({
      room: context.room.name,
      memberId: this.id,
      member: connection.member,
      resource: connection.resource,
      principal: connection.resource.principal,
    });
  }

  /**
   * An `approval` from a member connection whose role allows it (an approver or owner; the room checked)
   * answers a pending tool approval of its answer, once: a second answer, or one after the timeout denied it,
   * is refused (`UNKNOWN_APPROVAL`).
   * A `stop` or `steer` from a member connection whose role allows it (the room checked): a stop ends the
   * running answer (its terminal frame is `complete` with `"reason":"stopped"` and the usage so far, the text so
   * far is said), a steer goes to its next step boundary (acknowledged by `steer` events). With a `sessionId`
   * that is not the running answer's, a stop changes nothing (the stop and the end crossed); a steer is refused.
   */
  onTurn(turn: RoomTurn, context: VirtualMemberContext): RoomTurnRefusal | undefined {
    const seat = this.#seats.get(context);
    if (turn.action === 'approval') {
      const approvals = seat?.approvals;
      const answer = approvals?.answer(
        approvalMessage(turn.approvalId, turn.approved ? 'approve' : 'deny', turn.arguments),
        turn.member.id,
      );
      if (answer === 'approved' || answer === 'denied') return undefined;
      return {
        code: 'UNKNOWN_APPROVAL',
        reason:
          approvals?.issued(turn.approvalId) === true
            ? `The approval ${turn.approvalId} of ${this.id} was answered already or expired (a timeout denies it).`
            : `${this.id} has no pending approval ${turn.approvalId} in room ${context.room.name}.`,
      };
    }
    const current = seat?.current;
    const running = current !== undefined && !current.closed ? current : undefined;
    const meant =
      running !== undefined && (turn.sessionId === undefined || turn.sessionId === running.sessionId)
        ? running
        : undefined;
    if (turn.action === 'stop') {
      if (meant !== undefined) {
        meant.stop();
        return undefined;
      }
      if (turn.sessionId !== undefined) return undefined;
      return {
        code: 'UNKNOWN_RUN',
        reason: `${this.id} is not answering in room ${context.room.name}; nothing to stop.`,
      };
    }
    if (meant === undefined || seat?.steering === undefined) {
      return {
        code: 'UNKNOWN_RUN',
        reason: `${this.id} is not answering${turn.sessionId === undefined ? '' : ` ${turn.sessionId.slice(0, 64)}`} in room ${context.room.name}; the guidance ${turn.steerId} was not used.`,
      };
    }
    const max = this.#options.maxSteerLength ?? 4000;
    if (turn.text.length > max) {
      return {
        code: 'INVALID_PROMPT',
        reason: `Steer guidance must be 1 to ${max} characters (option maxSteerLength of ${this.id}).`,
      };
    }
    seat.steering.add(turn.steerId, `${turn.member.id}: ${turn.text}`);
    return undefined;
  }

  /**
   * Where the answer a turn means is, on this node: `here` while it runs here (the running answer, when the
   * turn names none), `ended` when it is one of the last answers given here, else `unknown` — in a cluster the
   * room then routes the turn to the node that runs it.
   */
  locateTurn(turn: RoomTurn, context: VirtualMemberContext): RoomTurnPlace {
    const seat = this.#seats.get(context);
    if (seat === undefined) return 'unknown';
    if (turn.action === 'approval') {
      if (seat.approvals.pending(turn.approvalId)) return 'here';
      return seat.approvals.issued(turn.approvalId) ? 'ended' : 'unknown';
    }
    const current = seat.current;
    if (
      current !== undefined &&
      !current.closed &&
      (turn.sessionId === undefined || turn.sessionId === current.sessionId)
    )
      return 'here';
    return turn.sessionId !== undefined && seat.ended.includes(turn.sessionId) ? 'ended' : 'unknown';
  }

  /**
   * A member connection's paint timing report about one of this member's answers (telemetry, off by default
   * in the client): joined to that answer's run (`atmosphere_ai_token_to_paint_seconds` and the other paint
   * histograms, an `atmosphere.ai.paint` span) when it names the running answer or one of the last ones given
   * here, and comes from a member present when that answer started or ended (its audience); anything else —
   * malformed, another member's or an unknown answer, a member that was not there — is refused whole, counted
   * (`atmosphere_ai_paint_reports_total{outcome="refused"}`) and logged at debug level, never answered.
   */
  onTiming(report: string, connection: RoomTimingSource, context: VirtualMemberContext): void {
    const audiences = this.#seats.get(context)?.audiences;
    const refused = AiTelemetry.of(context.room.atmosphere).paintReport(
      report,
      connection.resourceId,
      (runId) => audiences?.get(runId)?.has(connection.member.id) === true,
    );
    if (refused !== undefined)
      this.#logger(context).debug(
        `room ${context.room.name}: paint timing report of ${connection.resourceId} about ${this.id} refused: ${refused}`,
      );
  }

  /**
   * In a cluster, a paint timing report goes to the node where the answer it names ran: `here` when this copy
   * gave that answer (the running one or one of the last ones, those whose audience it keeps).
   */
  locateTiming(sessionId: string, context: VirtualMemberContext): 'here' | 'unknown' {
    return this.#seats.get(context)?.audiences.has(sessionId) === true ? 'here' : 'unknown';
  }

  // ------------------------------------------------------------------------------------ internals

  #logger(context: VirtualMemberContext): Logger {
    return this.#options.logger ?? context.room.logger;
  }

  /**
   * The seat of this member in the context's room, made on first use: in `onJoin`, or in `onMessage` when a
   * message submitted before the join reaches it first (then `before` is that message's id, already in history).
   */
  #seat(context: VirtualMemberContext, before?: number): RoomSeat {
    let seat = this.#seats.get(context);
    if (seat !== undefined) return seat;
    // One more than `memory`: the question itself is remembered too, and is sent apart from the history.
    const transcript = new RoomTranscript(this.#memory === 0 ? 0 : this.#memory + 1);
    seat = {
      owner: this,
      context,
      transcript,
      sink: new RoomFrameSink(context, this.#logger(context)),
      queue: [],
      running: false,
      timer: undefined,
      quiet: [],
      current: undefined,
      steering: undefined,
      ended: [],
      audiences: new Map(),
      approvals: new SeatApprovals(
        this.#options.approvalTimeoutMs === undefined ? {} : { timeoutMs: this.#options.approvalTimeoutMs },
      ),
    };
    this.#seats.set(context, seat);
    addSeat(seat);
    // What the room said before it arrived (when the room keeps history) is context for its first answers.
    if (this.#memory > 0) {
      for (const message of context.room.history()) {
        if (before !== undefined && message.id !== undefined && message.id >= before) break;
        this.#remember(seat, message, this.#textOf(message));
      }
    }
    return seat;
  }

  #textOf(message: RoomMessage): string | undefined {
    const text = (this.#options.textOf ?? textOf)(message);
    return text === undefined || text.trim() === '' ? undefined : text;
  }

  #remember(seat: RoomSeat, message: RoomMessage, text: string | undefined): ChatMessage | undefined {
    if (text === undefined) return undefined;
    if (message.from === this.id) return seat.transcript.push({ role: 'assistant', content: text });
    return seat.transcript.push({ role: 'user', content: `${message.from ?? 'room'}: ${text}` });
  }

  #receive(message: RoomMessage, context: VirtualMemberContext): void {
    if (message.to !== undefined || !context.active) return;
    const seat = this.#seat(context, message.id);
    const text = this.#textOf(message);
    const entry = this.#remember(seat, message, text);
    const from = message.from;
    if (entry === undefined || text === undefined || from === undefined) return;
    if (!isAddressed(seat, message, from, text, this.#options.answerVirtualMembers === true)) return;
    const prompt = stripMentions(text, this.names);
    if (prompt === '') return;
    const images = roomMessageAttachments(message.data, this.#attachmentLimits);
    const question: RoomQuestion = { message, from, prompt, entry, parts: images.ok ? images.value : [] };
    // Images that do not pass are refused, never answered without them.
    const take = images.ok
      ? () => this.#enqueue(seat, question)
      : () => this.#refuse(seat, question, aiError('INVALID_ATTACHMENT', images.message));
    // Seated on every node of a cluster, it answers a message on the one node that claims it.
    const mine = context.claim(message);
    if (mine === true) take();
    else if (mine !== false) claimed(mine, context, this.#logger(context), take);
  }

  /** Applies `whileAnswering`: answer now, wait (in order, or to be folded), stop the running answer, or refuse. */
  #enqueue(seat: RoomSeat, question: RoomQuestion): void {
    const policy = this.#options.whileAnswering ?? 'queue';
    if (policy === 'debounce') {
      if (seat.quiet.length >= Math.max(1, this.#maxQueued)) {
        this.#refuse(seat, question);
        return;
      }
      seat.quiet.push(question);
      clearTimeout(seat.timer);
      seat.timer = setTimeout(() => {
        seat.timer = undefined;
        const quiet = seat.quiet.splice(0);
        // Folded as far as their images fit in one prompt; the rest fold on into the next ones, in order.
        while (quiet.length > 0 && seat.context.active) {
          const folded = this.#foldFitting(quiet);
          if (folded) this.#enqueueNow(seat, folded, 'queue');
        }
      }, this.#options.debounceMs ?? 500);
      return;
    }
    this.#enqueueNow(seat, question, policy);
  }

  #enqueueNow(seat: RoomSeat, question: RoomQuestion, policy: RoomWhileAnswering): void {
    if (!seat.running) {
      void this.#work(seat, question);
      return;
    }
    if (policy === 'drop') {
      this.#refuse(seat, question, 'BUSY');
      return;
    }
    if (policy === 'latest') {
      seat.queue.length = 0;
      seat.queue.push(question);
      seat.current?.stop();
      return;
    }
    if (seat.queue.length < this.#maxQueued) {
      seat.queue.push(question);
      return;
    }
    this.#refuse(seat, question);
  }

  /**
   * Takes the first questions of `questions` whose images fit in one prompt together (the `attachments` limits:
   * count and total bytes; a question alone always fits, it was checked) and folds them into one. The others
   * stay, for the next prompt.
   */
  #foldFitting(questions: RoomQuestion[]): RoomQuestion | undefined {
    return this.#fold(
      questions.splice(
        0,
        foldableCount(
          questions,
          (question) => ({ text: question.prompt, parts: question.parts }),
          this.#attachmentLimits,
        ),
      ),
    );
  }

  /**
   * Questions folded into one: their texts in order, and all their images, answering the last one's asker and
   * message.
   */
  #fold(questions: readonly RoomQuestion[]): RoomQuestion | undefined {
    const last = questions.at(-1);
    if (last === undefined || questions.length === 1) return last;
    return {
      ...last,
      prompt: questions.map((q) => q.prompt).join('\n\n'),
      parts: questions.flatMap((q) => q.parts),
    };
  }

  /** Answers `first`, then the queued questions, one at a time, while the member is in the room. */
  async #work(seat: RoomSeat, first: RoomQuestion): Promise<void> {
    seat.running = true;
    this.#running++;
    try {
      for (
        let question: RoomQuestion | undefined = first;
        question !== undefined && seat.context.active;
        question =
          this.#options.whileAnswering === 'merge' ? this.#foldFitting(seat.queue) : seat.queue.shift()
      ) {
        await this.#answer(seat, question);
      }
    } finally {
      seat.running = false;
      seat.queue.length = 0;
      if (--this.#running === 0) {
        const waiting = this.#idle;
        this.#idle = [];
        for (const resolve of waiting) resolve();
      }
    }
  }

  /**
   * One answer, start to end, marked as running here until its reply is said (in a cluster, another node says
   * it was interrupted should this one die first). Never throws.
   */
  async #answer(seat: RoomSeat, question: RoomQuestion): Promise<void> {
    // The run id is the answer's session id, the one its frames carry: paint timing reports name it.
    const answerId = randomUUID();
    const live: { session?: FrameStreamingSession } = {};
    // This node lost the answer (its lease expired while it ran; another node said it was interrupted): it ends
    // here too, its model call aborted.
    const running = seat.context.running(answerId, () =>
      live.session?.cancel(
        aiError('INTERRUPTED', 'This server lost its lease while it answered; the answer was interrupted.'),
      ),
    );
    try {
      await this.#answerAs(seat, question, answerId, live);
    } finally {
      running();
    }
  }

  async #answerAs(
    seat: RoomSeat,
    question: RoomQuestion,
    answerId: string,
    live: { session?: FrameStreamingSession },
  ): Promise<void> {
    const context = seat.context;
    const logger = this.#logger(context);
    const replyTo = replyTarget(question);
    // Who may report its paint timing: the members present when it starts, and when it ends (below), on every
    // node of a cluster (a report from another node's connection is routed here).
    const audience = new Set(context.room.clusterMembers().map((member) => member.id));
    seat.audiences.set(answerId, audience);
    const session = new FrameStreamingSession({
      sessionId: answerId,
      runId: answerId,
      sink: seat.sink,
      signal: context.signal,
      announceRunId: false,
      redact,
      logger,
    });
    live.session = session;
    const failed = (error: unknown): void => {
      if (context.active)
        logger.error(`room ${context.room.name}: AI member ${this.id} could not update the room`, { error });
    };
    const steering = new Steering(session);
    seat.current = session;
    seat.steering = steering;
    context.typing(true).catch(failed);
    session.metadata(REPLY_TO_METADATA_KEY, replyTo);
    let response: AiResponse;
    try {
      const runtime = this.#runtimeFor(context, logger);
      const history = seat.transcript.snapshot(question.entry, this.#memory);
      const withHistory: AiInterceptor = {
        name: 'room-memory',
        preProcess: (request) => ({ ...request, history }),
      };
      response = await runAgent({
        runtime,
        session,
        message: `${question.from}: ${question.prompt}`,
        // A runtime without vision refuses a question with images (UNSUPPORTED_ATTACHMENT), never drops them.
        parts: question.parts,
        systemPrompt: this.#systemPrompt(context.room),
        model: this.#options.model,
        tools: this.#options.tools ?? [],
        interceptors: [withHistory, ...(this.#options.interceptors ?? [])],
        conversationId: `room:${context.room.name}`,
        metadata: {
          room: context.room.name,
          from: question.from,
          ...(question.message.id === undefined ? {} : { messageId: question.message.id }),
        },
        ...(this.#options.maxToolRounds === undefined ? {} : { maxToolRounds: this.#options.maxToolRounds }),
        promptCache: this.#options.promptCache,
        steering,
        approvals: seat.approvals,
        logger,
        telemetry: AiTelemetry.of(context.room.atmosphere),
      });
    } catch (error) {
      // runAgent never throws; this is a failure around it (a runtime that could not be made).
      session.error(error);
      response = { status: isAbortError(error) ? 'cancelled' : 'error', text: '', usage: undefined, error };
    } finally {
      seat.current = undefined;
      seat.steering = undefined;
      seat.ended.push(session.sessionId);
      if (seat.ended.length > ENDED_KEPT) seat.ended.shift();
      for (const member of context.room.clusterMembers()) audience.add(member.id);
      if (seat.audiences.size > ENDED_KEPT + 1) seat.audiences.delete(seat.audiences.keys().next().value!);
    }
    let reply: RoomMessage | undefined;
    let notKept: AtmosphereError | undefined;
    if (context.active) {
      context.typing(false).catch(failed);
      if ((response.status === 'complete' || response.status === 'stopped') && response.text.trim() !== '') {
        seat.transcript.push({ role: 'assistant', content: response.text });
        const data: LlmRoomReply = { text: response.text, sessionId: session.sessionId, replyTo };
        try {
          reply = await context.say(data);
        } catch (error) {
          failed(error);
          if (context.active)
            notKept = this.#notKept(context, session.sessionId, question.from, error, logger);
        }
      }
    }
    const status = notKept
      ? 'error'
      : response.status === 'error' && !context.active
        ? 'cancelled'
        : response.status;
    this.#notify(context, {
      room: context.room.name,
      memberId: this.id,
      question: question.message,
      prompt: question.prompt,
      sessionId: session.sessionId,
      status,
      text: response.text,
      ...(reply === undefined ? {} : { reply }),
      ...(notKept !== undefined
        ? { error: notKept }
        : response.error === undefined
          ? {}
          : { error: response.error }),
    });
  }

  /**
   * The answer streamed to the room, but its reply `message` could not be said (the room's log refused it:
   * `LOG_FAILED`): it is not in the history, and the connections that followed the stream wait for a message
   * that will not come. Every connection of the room is told so by an `error` frame outside the room's stream
   * (which the same log carries): the error's code, the member and the answer's `sessionId`. Returns the error
   * the answer ends with.
   */
  #notKept(
    context: VirtualMemberContext,
    sessionId: string,
    asker: string,
    error: unknown,
    logger: Logger,
  ): AtmosphereError {
    const code = AtmosphereError.isInstance(error) ? error.code : 'HANDLER_FAILED';
    // The log refused it: it is nowhere. Otherwise (a filter, a closed broadcaster) it reached nobody.
    const reason =
      code === 'LOG_FAILED'
        ? `The answer of ${this.id} to ${asker} could not be kept: it is not in the room's history (ask again).`
        : `The answer of ${this.id} to ${asker} could not be said as a room message (${code}); ask again.`;
    context
      .sendError(code, reason, { sessionId })
      .catch((failure: unknown) =>
        logger.error(
          `room ${context.room.name}: the connections of other nodes could not be told that an answer of ${this.id} was not kept`,
          { error: failure },
        ),
      );
    return new AtmosphereError(code, reason, { cause: error });
  }

  /** Busy with a full queue: the question gets an `error` frame at once, so the asker is not left waiting. */
  #refuse(
    seat: RoomSeat,
    question: RoomQuestion,
    refusal: 'TOO_MANY_PROMPTS' | 'BUSY' | Error = 'TOO_MANY_PROMPTS',
  ): void {
    const context = seat.context;
    const logger = this.#logger(context);
    const session = createStreamingSession({ sink: seat.sink, announceRunId: false, logger });
    session.metadata(REPLY_TO_METADATA_KEY, replyTarget(question));
    const waiting = seat.queue.length;
    const error =
      refusal instanceof Error
        ? refusal
        : aiError(
            refusal,
            `${this.id} is busy answering${waiting > 0 ? ` and ${waiting} question(s) are waiting` : ''}; ask again when it has answered.`,
          );
    session.error(error);
    this.#notify(context, {
      room: context.room.name,
      memberId: this.id,
      question: question.message,
      prompt: question.prompt,
      sessionId: session.sessionId,
      status: 'refused',
      text: '',
      error,
    });
  }

  /**
   * The runtime that answers: the one given, else the built-in client with the given `client` options, else the
   * runtime the registry selected for the Atmosphere instance of the room — the same selection AI endpoints
   * get, so an installed adapter answers in rooms too. Throws `PROVIDER_UNAVAILABLE` when there is none.
   */
  #runtimeFor(context: VirtualMemberContext, logger: Logger): AgentRuntime {
    const { runtime, client } = this.#options;
    if (runtime !== undefined) return runtime;
    if (client !== undefined) return (this.#client ??= openAiRuntime({ logger, ...client }));
    const selected = context.room.atmosphere.provider('agent-runtime');
    if (selected !== undefined) return selected;
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      `No agent runtime for AI room member ${this.id}: depend on @atmosphere/ai (autoload registers its runtimes) or import '@atmosphere/ai/register', or pass llmRoomMember({ runtime }).`,
    );
  }

  #systemPrompt(room: RoomView): string {
    const option = this.#options.systemPrompt;
    if (typeof option === 'function') return option({ room: room.name, memberId: this.id });
    const name =
      typeof this.metadata['name'] === 'string' && this.metadata['name'] !== this.id
        ? `${this.metadata['name']} (@${this.id})`
        : `@${this.id}`;
    const note =
      `You are ${name}, a member of the chat room "${room.name}". Room messages are shown as "<member>: <text>"; ` +
      `everyone in the room reads your answers. Respond to the last message.`;
    return option ? `${option}\n\n${note}` : note;
  }

  #notify(context: VirtualMemberContext, answer: RoomAnswer): void {
    const listener = this.#options.onAnswer;
    if (listener === undefined) return;
    try {
      listener(answer);
    } catch (error) {
      this.#logger(context).error(`room ${context.room.name}: the onAnswer listener of ${this.id} threw`, {
        error,
      });
    }
  }
}

/** An AI room member: `room.joinVirtual(llmRoomMember({ id: 'assistant' }))`. See {@link LlmRoomMember}. */
export function llmRoomMember(options: LlmRoomMemberOptions): LlmRoomMember {
  return new LlmRoomMember(options);
}

function textOf(message: RoomMessage): string | undefined {
  return roomMessageText(message.data);
}

function replyTarget(question: RoomQuestion): LlmReplyTarget {
  return question.message.id === undefined
    ? { from: question.from }
    : { from: question.from, id: question.message.id };
}

/** The longest delay a timer takes (a larger one fires at once). */
const MAX_TIMER_MS = 2_147_483_647;

function bound(value: number | undefined, fallback: number, name: string, id: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `LlmRoomMember ${id}: \`${name}\` must be an integer >= 0; got ${value}.`,
    );
  }
  return value;
}
