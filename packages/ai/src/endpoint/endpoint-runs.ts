import { randomUUID } from 'node:crypto';
import type {
  Atmosphere,
  AtmosphereResource,
  Broadcaster,
  Logger,
  ManagedContext,
  ManagedHandler,
} from '@atmosphere/runtime';
import {
  type AiRole,
  type AttachmentLimits,
  AtmosphereHeaders,
  DEFAULT_ATTACHMENT_LIMITS,
  parseAiFrame,
  parseSteerMessage,
  roleMessage,
  STEER_PREFIX,
  STOP_PREFIX,
  TIMING_PREFIX,
} from '@atmosphere/protocol';
import { type AiErrorCode, aiError, cancelledError } from '../errors.ts';
import type { AiRequest, AiResponse } from '../pipeline/ai-interceptor.ts';
import { foldableCount } from '../pipeline/attachment-limits.ts';
import { runAgent, unsupportedAttachments } from '../pipeline/run-agent.ts';
import { Steering } from '../pipeline/steering.ts';
import type { AgentRuntime } from '../spi/agent-runtime.ts';
import type { ChatPart } from '../spi/chat.ts';
import type { ConversationMemory } from '../spi/conversation-memory.ts';
import { AudienceSink } from '../streaming/frame-sink.ts';
import { RunRegistry, type StoredRun } from '../streaming/run-registry.ts';
import { runOwnerOf } from '../streaming/run-owner.ts';
import { AiTelemetry } from '../telemetry/ai-telemetry.ts';
import { FrameStreamingSession } from '../streaming/streaming-session.ts';
import {
  type StructuredOutput,
  structuredOutput,
  type StructuredOutputOptions,
} from '../structured/structured-output.ts';
import { ApprovalRegistry, approvalIdOf, isApprovalMessage } from '../tools/approvals.ts';
import type {
  AiEndpointOptions,
  InterruptedRuns,
  OnPrompt,
  StreamOptions,
  WhileAnswering,
} from './ai-endpoint-options.ts';
import { EndpointSession } from './ai-session.ts';
import { ClusterRuns, FOLLOW_POLL_MS, type RunCommand, type RunControl } from './cluster-runs.ts';
import { FollowedRun } from './followed-run.ts';
import { parsePromptMessage } from './prompt-message.ts';

/** A prompt being answered: its session, who follows it (and in which role), its guidance, its request. */
interface LiveRun {
  readonly session: EndpointSession;
  readonly audience: AudienceSink;
  readonly roles: Map<string, AiRole>;
  readonly steering: Steering;
  readonly asker: AtmosphereResource;
  /**
   * The SHA-256 digest of the asker's session token (never the token); `null` when the asker had no session;
   * `undefined` when it is not known (a run read back from a log that lost its owner record).
   */
  readonly owner: string | null | undefined;
  request: AiRequest | undefined;
  /** A run continued after a restart: the text the process before streamed. */
  readonly continueFrom?: string;
}

/** The text of a run's `streaming-text` frames, in order. */
function streamedText(frames: readonly string[]): string {
  let text = '';
  for (const frame of frames) {
    const parsed = parseAiFrame(frame);
    if (parsed?.type === 'streaming-text') text += parsed.data;
  }
  return text;
}

/** How many ended runs keep their audience for late paint reports (the telemetry keeps as many runs timed). */
const ENDED_AUDIENCES = 256;

/** What each role may do to a run (`approve` also depends on `approvalsBy`). */
const MAY_STEER: ReadonlySet<AiRole> = new Set<AiRole>(['steerer', 'approver', 'owner']);

/** A prompt waiting for the client's running answer (policies `queue`, `merge`, `debounce`). */
interface WaitingPrompt {
  readonly prompt: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly attachments: readonly ChatPart[];
  readonly params: Readonly<Record<string, string>>;
}

/** What waits for one client: its prompts, and the quiet timer of `debounce`. */
interface Waiting {
  readonly prompts: WaitingPrompt[];
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_ON_PROMPT: OnPrompt = (prompt, session) => session.stream(prompt);

function compileOutput(
  value: StructuredOutputOptions | StructuredOutput | undefined,
): StructuredOutput | undefined {
  if (value === undefined) return undefined;
  return 'request' in value ? value : structuredOutput(value);
}

/**
 * @internal The runs of one AI endpoint: what each client message does (a prompt starts a run, an approval
 * answer goes to its gate, a stop ends a run, a reconnect with a run id catches up), the runs live now and
 * their audiences, and what a client's departure cancels.
 */
export class EndpointRuns {
  readonly records: RunRegistry;
  readonly approvals: ApprovalRegistry;
  readonly #atmosphere: Atmosphere;
  readonly #options: AiEndpointOptions;
  readonly #runtime: AgentRuntime;
  readonly #memory: ConversationMemory | undefined;
  readonly #logger: Logger;
  readonly #output: StructuredOutput | undefined;
  readonly #onPrompt: OnPrompt;
  readonly #maxPromptLength: number;
  readonly #attachmentLimits: AttachmentLimits;
  readonly #maxConcurrent: number;
  readonly #live = new Map<string, LiveRun>();
  /** The audiences of the last {@link ENDED_AUDIENCES} ended runs (tracking ids), for their late paint reports. */
  readonly #endedAudiences = new Map<string, readonly string[]>();
  /** Did this client receive the run's frames (it is, or was until the run ended, in its audience)? */
  readonly #heard = (runId: string, resourceId: string): boolean =>
    this.#live.get(runId)?.audience.has(resourceId) ??
    this.#endedAudiences.get(runId)?.includes(resourceId) ??
    false;
  readonly #byResource = new Map<string, Set<LiveRun>>();
  readonly #work = new Set<Promise<void>>();
  readonly #policy: WhileAnswering;
  readonly #debounceMs: number;
  readonly #waiting = new Map<string, Waiting>();
  /** Runs from before a restart being read back (and continued or closed), once for every client asking. */
  readonly #resuming = new Map<string, Promise<Resumed>>();
  /** With a shared cluster state and a durable log: which node produces a run. */
  readonly #cluster: ClusterRuns | undefined;
  readonly #stopListening: (() => void) | undefined;
  /** Runs another node produces that connections of this node follow: one poll loop each, by run id. */
  readonly #followers = new Map<string, FollowedRun>();
  readonly #interrupted: Required<InterruptedRuns>;
  readonly #approvers: ReadonlySet<AiRole>;
  #closed = false;

  constructor(
    atmosphere: Atmosphere,
    options: AiEndpointOptions,
    runtime: AgentRuntime,
    memory: ConversationMemory | undefined,
  ) {
    this.#atmosphere = atmosphere;
    this.#options = options;
    this.#runtime = runtime;
    this.#memory = memory;
    this.#logger = atmosphere.logger;
    this.#output = compileOutput(options.structuredOutput);
    this.#onPrompt = options.onPrompt ?? DEFAULT_ON_PROMPT;
    this.#maxPromptLength = options.maxPromptLength ?? 100_000;
    this.#attachmentLimits = { ...DEFAULT_ATTACHMENT_LIMITS, ...options.attachments };
    this.#maxConcurrent = options.maxConcurrentPrompts ?? 4;
    this.#policy = options.whileAnswering ?? 'queue';
    this.#debounceMs = options.debounceMs ?? 500;
    this.#approvers = new Set<AiRole>(
      options.approvalsBy === 'approvers' ? ['approver'] : ['approver', 'owner'],
    );
    // A durable stream log (SQLite, Redis) keeps every run's frames, so a client re-attaching after a restart
    // catches up from it.
    this.records = new RunRegistry({
      ...options.runs,
      ...(atmosphere.log.durable ? { log: atmosphere.log, logger: this.#logger } : {}),
      // Another node took a run of this node over (the log fenced it): the answer ends here, the model call
      // is aborted; the run goes on where it was taken over.
      onSuperseded: (runId) => this.#live.get(runId)?.session.superseded(),
    });
    this.#cluster = ClusterRuns.of(atmosphere.provider('cluster-state'), this.records.durable, this.#logger);
    if (this.#cluster !== undefined && atmosphere.log.fencing !== true)
      this.#logger.warn(
        `AI endpoint ${options.path}: the ${atmosphere.log.name} stream log does not fence writers; a node whose lease expired while it still answered could go on appending to a run another node took over (the Redis log fences)`,
      );
    this.#stopListening = this.#cluster?.listen((runId, command) => this.#command(runId, command));
    const interrupted = options.interruptedRuns ?? {};
    this.#interrupted = {
      policy: interrupted.policy ?? (runtime.capabilities.has('conversation-memory') ? 'continue' : 'close'),
      maxAttempts: interrupted.maxAttempts ?? 2,
      noProgressMs: interrupted.noProgressMs ?? 30_000,
      maxContinuationChars: interrupted.maxContinuationChars ?? 16_000,
    };
    this.approvals = new ApprovalRegistry(
      options.approvalTimeoutMs === undefined ? {} : { timeoutMs: options.approvalTimeoutMs },
    );
  }

  get active(): number {
    return this.#live.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The managed-path handler: filters on ready, messages dispatched, departures cancelling. */
  handler(): ManagedHandler<string | Uint8Array> {
    return {
      onReady: (resource, context) => this.#ready(resource, context),
      onMessage: (message, resource, context) => this.#message(message, resource, context),
      onDisconnect: (resource) => this.#departed(resource),
    };
  }

  /** Resolves when no prompt is running. */
  async idle(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }

  /** Cancels running prompts and pending approvals, waits for the runs to end. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiting of this.#waiting.values()) clearTimeout(waiting.timer);
    this.#waiting.clear();
    this.#stopListening?.();
    for (const run of [...this.#live.values()]) run.session.cancel(cancelledError('the endpoint closed'));
    this.approvals.close();
    await this.idle();
    this.records.close();
  }

  #ready(resource: AtmosphereResource, context: ManagedContext): void {
    for (const filter of this.#options.filters ?? [])
      if (!context.broadcaster.filters.includes(filter)) context.broadcaster.addFilter(filter);
    const runId = resource.request.runId;
    if (runId !== undefined && runId !== '') this.#reattach(resource, runId);
  }

  /** One client message: an approval answer, a stop, or a prompt (each refused with a code when it is bad). */
  #message(message: string | Uint8Array, resource: AtmosphereResource, context: ManagedContext): void {
    if (this.#closed) return;
    if (typeof message !== 'string') {
      this.#refuse(
        resource,
        'INVALID_PROMPT',
        'Binary messages are not prompts: send text, or JSON {"prompt":"…"}.',
      );
      return;
    }
    if (isApprovalMessage(message)) {
      const answer = this.approvals.answer(message, resource.id);
      if (answer === 'unknown' && this.#forwardApproval(resource, message)) return;
      if (answer === 'unknown') {
        this.#refuse(
          resource,
          'UNKNOWN_APPROVAL',
          'No pending approval with this id for this client (it may have been answered already or have expired).',
        );
      } else if (answer === 'forbidden') {
        this.#refuse(
          resource,
          'FORBIDDEN',
          `This client's role may not answer approvals of this run (approvals by ${this.#options.approvalsBy ?? 'owner-and-approvers'}).`,
        );
      }
      return;
    }
    if (message.startsWith(STOP_PREFIX)) {
      this.#stop(resource, message.slice(STOP_PREFIX.length).trim());
      return;
    }
    if (message.startsWith(STEER_PREFIX)) {
      this.#steer(resource, message);
      return;
    }
    if (message.startsWith(TIMING_PREFIX)) {
      // Telemetry, not a command: a refused report is counted and logged, never answered with an error frame.
      const refused = AiTelemetry.of(this.#atmosphere).paintReport(message, resource.id, this.#heard);
      if (refused !== undefined)
        this.#logger.debug(
          `${this.#options.path}: paint timing report of ${resource.id} refused: ${refused}`,
        );
      return;
    }
    const parsed = parsePromptMessage(message, this.#maxPromptLength, this.#attachmentLimits);
    if (!parsed.ok) {
      this.#refuse(resource, parsed.code, parsed.message);
      return;
    }
    const attachments = parsed.value.attachments;
    if (attachments.length > 0 && !this.#runtime.capabilities.has('vision')) {
      const error = unsupportedAttachments(this.#runtime, attachments.length);
      this.#refuse(resource, 'UNSUPPORTED_ATTACHMENT', error.message);
      return;
    }
    // Not awaited: the runtime hands a client's messages to onMessage one at a time, and approval answers
    // for this very prompt must get through while it runs.
    this.#admit(resource, {
      prompt: parsed.value.prompt,
      metadata: parsed.value.metadata,
      attachments,
      params: context.params,
    });
  }

  /** Applies the `whileAnswering` policy to a valid prompt: start it, make it wait, stop the running one, or refuse. */
  #admit(resource: AtmosphereResource, prompt: WaitingPrompt): void {
    const running = this.#running(resource);
    const waiting = this.#waiting.get(resource.id);
    switch (this.#policy) {
      case 'parallel':
        if (running.length >= this.#maxConcurrent) {
          this.#refuse(
            resource,
            'TOO_MANY_PROMPTS',
            `${this.#maxConcurrent} prompts of this client are still running; wait for one to finish (option maxConcurrentPrompts).`,
          );
          return;
        }
        this.#start(resource, prompt);
        return;
      case 'drop':
        if (running.length > 0) {
          this.#refuse(
            resource,
            'BUSY',
            'An answer is still running; send this again when it has ended, or stop it.',
          );
          return;
        }
        this.#start(resource, prompt);
        return;
      case 'latest':
        for (const run of running) run.session.stop();
        this.#start(resource, prompt);
        return;
      case 'queue':
      case 'merge':
        if (running.length === 0 && waiting === undefined) {
          this.#start(resource, prompt);
          return;
        }
        if ((waiting?.prompts.length ?? 0) >= this.#maxConcurrent) {
          this.#refuse(
            resource,
            'TOO_MANY_PROMPTS',
            `${this.#maxConcurrent} prompts of this client are already waiting; wait for the answers (option maxConcurrentPrompts).`,
          );
          return;
        }
        this.#wait(resource, prompt);
        return;
      case 'debounce': {
        const entry = this.#wait(resource, prompt);
        clearTimeout(entry.timer);
        entry.timer = setTimeout(() => {
          entry.timer = undefined;
          this.#next(resource);
        }, this.#debounceMs);
        return;
      }
    }
  }

  #wait(resource: AtmosphereResource, prompt: WaitingPrompt): Waiting {
    let entry = this.#waiting.get(resource.id);
    if (!entry) this.#waiting.set(resource.id, (entry = { prompts: [], timer: undefined }));
    entry.prompts.push(prompt);
    return entry;
  }

  /** The runs this client asked for that are still running (not those it only follows). */
  #running(resource: AtmosphereResource): LiveRun[] {
    const runs: LiveRun[] = [];
    for (const run of this.#byResource.get(resource.id) ?? [])
      if (run.session.resource === resource && !run.session.closed) runs.push(run);
    return runs;
  }

  /**
   * The client's answer ended (or its quiet came): start what waits, one prompt or those folded into one (all of
   * them, as far as their images and text fit in one prompt's limits; the rest wait for the next).
   */
  #next(resource: AtmosphereResource): void {
    const entry = this.#waiting.get(resource.id);
    if (!entry || entry.timer !== undefined || this.#closed || resource.state === 'closed') return;
    if (this.#running(resource).length > 0) return;
    const fold = this.#policy === 'merge' || this.#policy === 'debounce';
    const taken = entry.prompts.splice(
      0,
      fold
        ? foldableCount(
            entry.prompts,
            (prompt) => ({ text: prompt.prompt, parts: prompt.attachments }),
            this.#attachmentLimits,
            this.#maxPromptLength,
          )
        : 1,
    );
    if (entry.prompts.length === 0) this.#waiting.delete(resource.id);
    if (taken.length === 0) return;
    const last = taken.at(-1)!;
    this.#start(resource, {
      prompt: taken.map((p) => p.prompt).join('\n\n'),
      metadata: last.metadata,
      attachments: taken.flatMap((p) => p.attachments),
      params: last.params,
    });
  }

  /** The asker left for good: it leaves every audience; a run nobody follows any more is cancelled. */
  #departed(resource: AtmosphereResource): void {
    const waiting = this.#waiting.get(resource.id);
    if (waiting) clearTimeout(waiting.timer);
    this.#waiting.delete(resource.id);
    const runs = this.#byResource.get(resource.id);
    this.#byResource.delete(resource.id);
    for (const run of runs ?? []) {
      if (run.audience.remove(resource) > 0 || run.session.closed) continue;
      const context = { session: run.session, resource, signal: run.session.signal };
      for (const interceptor of this.#options.interceptors ?? []) {
        try {
          if (run.request) interceptor.onDisconnect?.(run.request, context);
        } catch (error) {
          this.#logger.error(`AI interceptor ${interceptor.name ?? ''}: onDisconnect threw`, { error });
        }
      }
      run.session.cancel(cancelledError('the client left'));
    }
  }

  #broadcasterOf(path: string): () => Broadcaster | undefined {
    return () => {
      const broadcaster = this.#atmosphere.broadcasters.find(path);
      return broadcaster && !broadcaster.destroyed ? broadcaster : undefined;
    };
  }

  #join(run: LiveRun, resource: AtmosphereResource): void {
    const role = this.#roleOf(resource, run);
    run.roles.set(resource.id, role);
    run.audience.add(resource);
    // To this connection alone, so its UI can hide what it may not do.
    run.audience.writeTo(resource, roleMessage(run.session.runId, role));
    let runs = this.#byResource.get(resource.id);
    if (!runs) this.#byResource.set(resource.id, (runs = new Set()));
    runs.add(run);
  }

  /**
   * The application's `role` hook decides; without one, the connections of the asker's session (the same
   * session token: a reload, a reconnect after a restart) are owners and others viewers — or, when the asker
   * had no session, every follower is an owner. A run whose owner is not known (its record is missing from
   * the log: a failed append, a trim) fails closed: everyone is a viewer.
   */
  #roleOf(resource: AtmosphereResource, run: LiveRun): AiRole {
    return this.#decideRole(resource, run.session.runId, run.owner, run.asker);
  }

  #decideRole(
    resource: AtmosphereResource,
    runId: string,
    owner: string | null | undefined,
    asker: AtmosphereResource | undefined,
  ): AiRole {
    const sessionOwner =
      typeof owner === 'string' && runOwnerOf(this.#atmosphere.sessionTokenOf(resource)) === owner;
    const hook = this.#options.role;
    if (!hook) return owner === null || sessionOwner ? 'owner' : 'viewer';
    try {
      const role = hook({
        resource,
        principal: resource.principal,
        runId,
        asker,
        sessionOwner,
      });
      if (role === 'viewer' || role === 'steerer' || role === 'approver' || role === 'owner') return role;
      this.#logger.warn(
        `AI endpoint ${this.#options.path}: the role hook returned ${String(role)}; viewer it is`,
      );
    } catch (error) {
      this.#logger.error(`AI endpoint ${this.#options.path}: the role hook threw; viewer it is`, { error });
    }
    return 'viewer';
  }

  /** May this client answer the run's approvals: outside the run `false`, by role otherwise. */
  #mayApprove(run: LiveRun, resourceId: string): boolean | 'forbidden' {
    if (!run.audience.has(resourceId)) return false;
    return this.#approvers.has(run.roles.get(resourceId) ?? 'viewer') ? true : 'forbidden';
  }

  #leaveAll(run: LiveRun): void {
    const ended = this.#endedAudiences;
    ended.set(run.session.runId, run.audience.targets);
    if (ended.size > ENDED_AUDIENCES) ended.delete(ended.keys().next().value!);
    for (const id of run.audience.targets) {
      const runs = this.#byResource.get(id);
      runs?.delete(run);
      if (runs?.size === 0) this.#byResource.delete(id);
    }
  }

  /** A one-frame session to one client: bad input gets an `error` frame with a code. */
  #refuse(resource: AtmosphereResource, code: AiErrorCode, message: string): void {
    if (resource.state === 'closed') return;
    const sink = new AudienceSink(this.#broadcasterOf(resource.path), this.#logger);
    sink.add(resource);
    new FrameStreamingSession({ sink, announceRunId: false, logger: this.#logger }).error(
      aiError(code, message),
    );
  }

  /** Starts a run for a prompt: a session to the asker, `onPrompt` called, the session ended when it returns. */
  #start(resource: AtmosphereResource, { prompt, metadata, attachments, params }: WaitingPrompt): void {
    const audience = new AudienceSink(this.#broadcasterOf(resource.path), this.#logger);
    audience.add(resource);
    const runId = randomUUID();
    const sessionId = randomUUID();
    const conversationId = this.#options.conversationId
      ? this.#options.conversationId(resource, metadata)
      : resource.id;
    const holder: { run?: LiveRun } = {};
    const owner = runOwnerOf(this.#atmosphere.sessionTokenOf(resource));
    const cluster = this.#cluster;
    // Held before the session announces the run id: a client cannot re-attach elsewhere before the hold is
    // on its way to the store (its commands go in order), so no node takes the run for orphaned.
    const producing = cluster?.produce(runId);
    const session = new EndpointSession(
      {
        sink: audience,
        sessionId,
        runId,
        run: this.records.start(runId, sessionId, owner),
        logger: this.#logger,
      },
      {
        resource,
        conversationId,
        metadata,
        prompt,
        attachments,
        run: (s, message, overrides) => this.#pipeline(s, holder.run!, message, overrides),
      },
    );
    const run: LiveRun = {
      session,
      audience,
      roles: new Map(),
      steering: new Steering(session),
      asker: resource,
      owner: owner ?? null,
      request: undefined,
    };
    holder.run = run;
    this.#live.set(runId, run);
    this.#join(run, resource);
    const task = (async () => {
      try {
        await producing;
        await this.#onPrompt(prompt, session, { resource, params, metadata, attachments });
        session.complete();
      } catch (error) {
        this.#logger.debug(`AI endpoint ${this.#options.path}: onPrompt failed`, { error });
        session.error(error);
      } finally {
        this.#live.delete(runId);
        this.#leaveAll(run);
        cluster?.release(runId, this.records.appended(runId));
        this.#next(resource);
      }
    })();
    this.#work.add(task);
    void task.finally(() => this.#work.delete(task));
  }

  /** `session.stream()`: the agent pipeline with the endpoint's settings and the call's overrides. */
  #pipeline(
    session: EndpointSession,
    run: LiveRun,
    message: string,
    overrides: StreamOptions,
  ): Promise<AiResponse> {
    const options = this.#options;
    const parts = overrides.attachments ?? session.promptAttachments;
    // What a restarted process needs to continue this answer; tools and output formats given to this call
    // alone cannot be stored, nor are images put in the log, so such a run is closed rather than continued.
    if (
      this.records.durable &&
      run.continueFrom === undefined &&
      overrides.tools === undefined &&
      overrides.structuredOutput === undefined &&
      parts.length === 0
    )
      this.records.describe(session.runId, {
        prompt: message,
        conversationId: session.conversationId,
        systemPrompt: overrides.systemPrompt,
        model: overrides.model,
        metadata: { ...session.promptMetadata, ...overrides.metadata },
      });
    return runAgent({
      continueFrom: run.continueFrom,
      runtime: this.#runtime,
      session,
      message,
      parts,
      systemPrompt: overrides.systemPrompt ?? options.systemPrompt,
      model: overrides.model ?? options.model,
      tools: overrides.tools ?? options.tools ?? [],
      memory: this.#memory,
      maxHistoryMessages: options.maxHistoryMessages ?? 20,
      conversationId: session.conversationId,
      interceptors: options.interceptors ?? [],
      structuredOutput:
        overrides.structuredOutput === undefined ? this.#output : compileOutput(overrides.structuredOutput),
      metadata: { ...session.promptMetadata, ...overrides.metadata },
      resource: session.resource,
      approvals: this.approvals,
      mayAnswer: (id) => this.#mayApprove(run, id),
      steering: run.steering,
      approvalTimeoutMs: this.approvals.timeoutMs,
      maxToolRounds: options.maxToolRounds ?? 5,
      retry: options.retry,
      promptCache: options.promptCache,
      onRequest: (request) => (run.request = request),
      logger: this.#logger,
      telemetry: AiTelemetry.of(this.#atmosphere),
      ...(options.pricing === undefined ? {} : { pricing: options.pricing }),
    });
  }

  /** A client (re)connected with `X-Atmosphere-Run-Id`: replay what it has not seen, then follow live. */
  #reattach(resource: AtmosphereResource, runId: string, after?: number): void {
    const record = this.records.get(runId);
    if (!record && this.records.durable && !this.#live.has(runId) && /^[A-Za-z0-9_-]{1,64}$/.test(runId)) {
      this.#recoverRun(resource, runId, after);
      return;
    }
    if (!record) {
      this.#refuse(
        resource,
        'UNKNOWN_RUN',
        `Run ${runId.slice(0, 64)} is unknown or expired; send the prompt again.`,
      );
      return;
    }
    const lastSeq = after ?? lastSeqOf(resource);
    const run = this.#live.get(runId);
    const sink = run?.audience ?? new AudienceSink(this.#broadcasterOf(resource.path), this.#logger);
    // Replay and join in one synchronous step: no live frame can fall between them.
    for (const frame of record.framesAfter(lastSeq)) sink.writeTo(resource, frame);
    if (run && !run.session.closed && !run.audience.has(resource)) this.#join(run, resource);
  }

  /**
   * A run from before a restart, read back from the durable log once for every client asking: ended runs are
   * kept as they ended; a run cut mid-answer is continued by this process (policy `continue`) or ended with
   * `INTERRUPTED` (policy `close`, or past a bound). Then the client catches up like any re-attach: exactly
   * the frames it missed, then live.
   */
  #recoverRun(resource: AtmosphereResource, runId: string, after?: number): void {
    let pending = this.#resuming.get(runId);
    if (pending === undefined) {
      pending = this.#resume(resource, runId).finally(() => this.#resuming.delete(runId));
      this.#resuming.set(runId, pending);
    }
    pending.then(
      (found) => {
        if (found === 'missing') {
          this.#refuse(resource, 'UNKNOWN_RUN', `Run ${runId} is unknown or expired; send the prompt again.`);
          return;
        }
        if (resource.state === 'closed') return;
        if (found === 'elsewhere') this.#follow(resource, runId, after ?? lastSeqOf(resource));
        else this.#reattach(resource, runId, after);
      },
      (error: unknown) => {
        this.#logger.error(
          `AI endpoint ${this.#options.path}: run ${runId} could not be recovered from the log`,
          { error },
        );
        this.#refuse(
          resource,
          'UNKNOWN_RUN',
          `Run ${runId} could not be read back (${(error as Error).message}); send the prompt again.`,
        );
      },
    );
  }

  /**
   * Reads a run back and makes it known here again (continued, or ended): `missing` when the log has no such
   * run, `elsewhere` when another node of the cluster produces it (or is continuing or ending it).
   */
  async #resume(resource: AtmosphereResource, runId: string): Promise<Resumed> {
    let stored = await this.records.read(runId);
    if (stored === undefined) return 'missing';
    if (this.records.get(runId) !== undefined) return 'found';
    const cluster = this.#cluster;
    // The attempt this node takes the run over as: its fencing token in the log.
    const attempt = stored.attempts + 1;
    if (!stored.terminal) {
      if (cluster !== undefined) {
        // Orphaned only when no node produces it; then one node (the claim) continues or ends it.
        if (await cluster.elsewhere(runId)) return 'elsewhere';
        if (!(await cluster.claim(runId, stored.attempts))) return 'elsewhere';
      }
      // Taken over: on a log that fences (Redis), a producer of an earlier attempt that still runs — a node
      // whose lease expired while it answered, a node on the same log without a cluster state — can no longer
      // append to the run, and stops at its next append. What it appended before is read now.
      await this.records.fence(runId, attempt);
      // Read again: its producer may have ended it (and let go), or added to it, since the first read.
      stored = (await this.records.read(runId)) ?? stored;
      if (this.records.get(runId) !== undefined) return 'found';
    }
    if (stored.terminal) {
      this.records.restore(runId, stored, true);
      return 'found';
    }
    const policy = this.#interrupted;
    if (
      policy.policy === 'continue' &&
      stored.descriptor !== undefined &&
      stored.attempts < policy.maxAttempts &&
      !this.#closed &&
      resource.state !== 'closed'
    ) {
      if (cluster !== undefined) await cluster.produce(runId);
      await this.records.countAttempt(runId, attempt);
      this.#continue(resource, runId, stored, attempt);
      return 'found';
    }
    const frames = await this.records.interrupt(runId, stored.frames, attempt);
    this.records.restore(runId, { ...stored, frames, terminal: true }, true);
    return 'found';
  }

  /**
   * A client re-attached here to a run another node produces: it follows the run with every other connection
   * of this node following it — one read of the shared log per {@link FOLLOW_POLL_MS} for all of them — and is
   * written the frames after `from`, in order, each once, until the run ends. When no node produces it any
   * more (its node died: its lease expired), the interrupted-run policy applies, once for the cluster, and each
   * follower catches up on what that gives from its own cursor.
   */
  #follow(resource: AtmosphereResource, runId: string, from: number): void {
    const followed = this.#followers.get(runId);
    if (followed !== undefined) {
      if (followed.loaded) this.#joinFollowed(followed, resource, from);
      else followed.waiting.set(resource.id, { resource, from });
      return;
    }
    const run = new FollowedRun(runId, (path) => this.#broadcasterOf(path), this.#logger);
    run.waiting.set(resource.id, { resource, from });
    this.#followers.set(runId, run);
    const task = this.#pollFollowed(run);
    this.#work.add(task);
    void task.finally(() => this.#work.delete(task));
  }

  /** Its role decided here as the producing node would (the asker being there), the connection joins. */
  #joinFollowed(run: FollowedRun, resource: AtmosphereResource, from: number): void {
    const role = this.#decideRole(resource, run.runId, run.owner, undefined);
    run.join(resource, from, role, roleMessage(run.runId, role));
  }

  /**
   * The poll loop of a followed run on this node: the whole run once (with its owner), then what the log gets
   * after the last frame read, at each poll, fanned out to the run's followers here — until it ends, every
   * follower left, or its producer is gone (then each follower recovers it).
   */
  async #pollFollowed(run: FollowedRun): Promise<void> {
    const cluster = this.#cluster!;
    const runId = run.runId;
    const refuseAll = (message: string): void => {
      for (const { resource } of [...run.followers.values(), ...run.waiting.values()])
        this.#refuse(resource, 'UNKNOWN_RUN', message);
    };
    const gone = `Run ${runId} is no longer in the log (trimmed or expired); send the prompt again.`;
    let orphaned = false;
    try {
      const stored = await this.records.read(runId);
      if (stored === undefined) return refuseAll(gone);
      run.owner = stored.owner;
      run.loaded = true;
      run.add(stored.frames, stored.terminal);
      for (const { resource, from } of run.waiting.values())
        if (resource.state !== 'closed') this.#joinFollowed(run, resource, from);
      run.waiting.clear();
      for (;;) {
        if (run.terminal || this.#closed || !run.prune()) return;
        // A pause before every check, so that a node that lost the claim to end or continue an orphaned
        // run polls while the winner works, instead of asking again at once.
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS).unref());
        if (!run.prune()) return;
        if (!(await cluster.elsewhere(runId))) {
          orphaned = true;
          return;
        }
        const next = await this.records.framesSince(runId, run.frames.length);
        if (next === undefined) return refuseAll(gone);
        run.add(next.frames, next.terminal);
      }
    } catch (error) {
      this.#logger.warn(
        `AI endpoint ${this.#options.path}: run ${runId} could not be followed from the log`,
        { error },
      );
      refuseAll(`Run ${runId} could not be followed (${(error as Error).message}); send the prompt again.`);
    } finally {
      // Only this loop's entry: a connection arriving from now on starts a newer one.
      if (this.#followers.get(runId) === run) this.#followers.delete(runId);
      if (orphaned)
        for (const follower of run.followers.values())
          if (follower.resource.state !== 'closed') this.#recoverRun(follower.resource, runId, follower.sent);
    }
  }

  /**
   * A stop or a steer of a connection that follows here a run another node produces: checked against its
   * role here, then sent to the cluster; the producing node acts on it, and what that does (the `stopped` end,
   * the steer events) reaches the connection through the run's frames. False when it follows no such run.
   */
  #forward(resource: AtmosphereResource, runId: string, control: RunControl): boolean {
    const role = this.#followers.get(runId)?.followers.get(resource.id)?.role;
    if (role === undefined) return false;
    if (!MAY_STEER.has(role)) {
      this.#refuse(
        resource,
        'FORBIDDEN',
        `This client's role (${role}) may not ${control.op} run ${runId.slice(0, 64)}.`,
      );
      return true;
    }
    void this.#send(resource, runId, control);
    return true;
  }

  /**
   * An approval answer this node does not wait for, from a connection following runs produced elsewhere: sent
   * to each of them its role may answer (the producing node applies it to the run that asked for it).
   */
  #forwardApproval(resource: AtmosphereResource, message: string): boolean {
    let followed = false;
    let sent = false;
    for (const [runId, run] of this.#followers) {
      const role = run.followers.get(resource.id)?.role;
      if (role === undefined) continue;
      followed = true;
      if (!this.#approvers.has(role)) continue;
      void this.#send(resource, runId, { op: 'approve', message });
      sent = true;
    }
    if (followed && !sent)
      this.#refuse(
        resource,
        'FORBIDDEN',
        `This client's role may not answer approvals of the runs it follows (approvals by ${this.#options.approvalsBy ?? 'owner-and-approvers'}).`,
      );
    return followed;
  }

  /** Sends a command to the node producing the run; `UNKNOWN_RUN` to the client when none does. */
  async #send(resource: AtmosphereResource, runId: string, control: RunControl): Promise<void> {
    const cluster = this.#cluster!;
    const refuse = (why: string): void =>
      this.#refuse(resource, 'UNKNOWN_RUN', `The ${control.op} of run ${runId.slice(0, 64)} ${why}.`);
    try {
      if (!(await cluster.elsewhere(runId))) return refuse('reached no node: no node runs it any more');
      await cluster.send(runId, { control, node: cluster.nodeId, resourceId: resource.id });
    } catch (error) {
      refuse(`could not reach the node that runs it (${(error as Error).message})`);
    }
  }

  /**
   * A command of the cluster about a run: the node producing it acts (a stop, a steer, an approval answer);
   * the node a refusal is for hands it to its connection. Every other node does nothing.
   */
  #command(runId: string, { control, node, resourceId }: RunCommand): void {
    const cluster = this.#cluster!;
    if (control.op === 'refused') {
      if (control.node !== cluster.nodeId) return;
      const resource = this.#atmosphere.resource(control.resourceId);
      if (resource !== undefined) this.#refuse(resource, control.code, control.message);
      return;
    }
    const run = this.#live.get(runId);
    if (run === undefined || run.session.closed) return;
    if (control.op === 'stop') run.session.stop();
    else if (control.op === 'steer') {
      if (control.text.length <= this.#maxPromptLength) run.steering.add(control.steerId, control.text);
    } else {
      // Only an approval this run asked for, and only once.
      if (this.#asked(runId, control.message) && this.approvals.answerChecked(control.message) !== 'unknown')
        return;
      void cluster
        .send(runId, {
          control: {
            op: 'refused',
            node,
            resourceId,
            code: 'UNKNOWN_APPROVAL',
            message:
              'No pending approval with this id for this run (it may have been answered already or have expired).',
          },
          node: cluster.nodeId,
          resourceId,
        })
        .catch(() => undefined);
    }
  }

  /** Whether the run asked for the approval an answer names (its `approval-required` event is in the run). */
  #asked(runId: string, message: string): boolean {
    const id = approvalIdOf(message);
    if (id === undefined) return false;
    for (const frame of this.records.get(runId)?.framesAfter(0) ?? []) {
      if (!frame.includes(id)) continue;
      const parsed = parseAiFrame(frame);
      if (
        parsed?.type === 'event' &&
        parsed.event === 'approval-required' &&
        (parsed.data as { approvalId?: unknown }).approvalId === id
      )
        return true;
    }
    return false;
  }

  /**
   * Continues a run cut by a restart: the same run id and session id, frames numbered on from the log's last,
   * the model given the partial text as its own answer so far. The first client to come back is its asker.
   */
  #continue(resource: AtmosphereResource, runId: string, stored: StoredRun, attempt: number): void {
    const descriptor = stored.descriptor!;
    const record = this.records.restore(runId, stored, false, attempt);
    const sessionId = record.sessionId;
    const audience = new AudienceSink(this.#broadcasterOf(resource.path), this.#logger);
    const holder: { run?: LiveRun } = {};
    const limits = this.#interrupted;
    const session = new EndpointSession(
      {
        sink: audience,
        sessionId,
        runId,
        run: record,
        announceRunId: false,
        firstSeq: stored.frames.length + 1,
        logger: this.#logger,
      },
      {
        resource,
        conversationId: descriptor.conversationId,
        metadata: descriptor.metadata ?? {},
        prompt: descriptor.prompt,
        run: (s, message, overrides) => this.#pipeline(s, holder.run!, message, overrides),
        maxChars: limits.maxContinuationChars,
      },
    );
    const run: LiveRun = {
      session,
      audience,
      roles: new Map(),
      steering: new Steering(session),
      asker: resource,
      // The owner recorded by the process before: the first client to come back is not its owner unless it
      // presents the asker's session token (nobody is, when the log lost the record).
      owner: stored.owner,
      request: undefined,
      continueFrom: streamedText(stored.frames),
    };
    holder.run = run;
    this.#live.set(runId, run);
    let seen = record.lastSeq;
    const watchdog = setInterval(() => {
      if (record.lastSeq !== seen) {
        seen = record.lastSeq;
        return;
      }
      session.interrupt(`no progress for ${limits.noProgressMs} ms`);
    }, limits.noProgressMs);
    watchdog.unref();
    const task = (async () => {
      try {
        await session.stream(descriptor.prompt, {
          ...(descriptor.systemPrompt === undefined ? {} : { systemPrompt: descriptor.systemPrompt }),
          ...(descriptor.model === undefined ? {} : { model: descriptor.model }),
        });
        session.complete();
      } catch (error) {
        session.error(error);
      } finally {
        clearInterval(watchdog);
        this.#live.delete(runId);
        this.#leaveAll(run);
        this.#cluster?.release(runId, this.records.appended(runId));
      }
    })();
    this.#work.add(task);
    void task.finally(() => this.#work.delete(task));
  }

  /** `/__stop/<runId>`: the user stops a run it is part of; the text so far stands. */
  #stop(resource: AtmosphereResource, runId: string): void {
    const run = this.#live.get(runId);
    if (!run && this.#forward(resource, runId, { op: 'stop' })) return;
    if (!run) {
      // A run that just finished is not an error: the stop and the end crossed.
      if (!this.records.get(runId))
        this.#refuse(
          resource,
          'UNKNOWN_RUN',
          `Run ${runId.slice(0, 64)} is unknown or expired; nothing to stop.`,
        );
      return;
    }
    if (!run.audience.has(resource)) {
      this.#refuse(
        resource,
        'FORBIDDEN',
        `This client is not part of run ${runId.slice(0, 64)} and cannot stop it.`,
      );
      return;
    }
    if (!MAY_STEER.has(run.roles.get(resource.id) ?? 'viewer')) {
      this.#refuse(
        resource,
        'FORBIDDEN',
        `This client's role (${run.roles.get(resource.id) ?? 'viewer'}) may not stop run ${runId.slice(0, 64)}.`,
      );
      return;
    }
    run.session.stop();
  }

  /** `/__steer/<runId>/<steerId> <text>`: guidance for the running answer's next step boundary. */
  #steer(resource: AtmosphereResource, message: string): void {
    const steer = parseSteerMessage(message);
    if (!steer || steer.text === '' || steer.text.length > this.#maxPromptLength) {
      this.#refuse(
        resource,
        'INVALID_PROMPT',
        steer
          ? `Steer guidance must be 1 to ${this.#maxPromptLength} characters (option maxPromptLength).`
          : 'A steer message is /__steer/<runId>/<steerId> <text>, steerId [A-Za-z0-9_-]{1,64}.',
      );
      return;
    }
    const runId = steer.runId.slice(0, 64);
    const run = this.#live.get(steer.runId);
    if (
      (!run || run.session.closed) &&
      this.#forward(resource, steer.runId, { op: 'steer', steerId: steer.steerId, text: steer.text })
    )
      return;
    if (!run || run.session.closed) {
      this.#refuse(
        resource,
        'UNKNOWN_RUN',
        `Run ${runId} is unknown or has ended; the guidance ${steer.steerId} was not used.`,
      );
      return;
    }
    if (!run.audience.has(resource)) {
      this.#refuse(resource, 'FORBIDDEN', `This client is not part of run ${runId} and cannot steer it.`);
      return;
    }
    const role = run.roles.get(resource.id) ?? 'viewer';
    if (!MAY_STEER.has(role)) {
      this.#refuse(resource, 'FORBIDDEN', `This client's role (${role}) may not steer run ${runId}.`);
      return;
    }
    run.steering.add(steer.steerId, steer.text);
  }
}

/** What reading a run back gave: known here now, not in the log, or produced by another node. */
type Resumed = 'found' | 'missing' | 'elsewhere';

/** The `X-Atmosphere-Last-Seq` a client presented (0 when none or malformed). */
function lastSeqOf(resource: AtmosphereResource): number {
  const text = resource.request.param(AtmosphereHeaders.lastSeq);
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : 0;
}
