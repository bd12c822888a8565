import { randomUUID } from 'node:crypto';
import type {
  Atmosphere,
  AtmosphereResource,
  Broadcaster,
  Logger,
  ManagedContext,
  ManagedServiceRegistration,
} from '@atmosphere/runtime';
import { AtmosphereError } from '@atmosphere/runtime';
import { aiError, cancelledError } from '../errors.ts';
import { InMemoryConversationMemory } from '../memory/in-memory-conversation-memory.ts';
import type { AiRequest, AiResponse } from '../pipeline/ai-interceptor.ts';
import { runAgent } from '../pipeline/run-agent.ts';
import type { AgentRuntime } from '../spi/agent-runtime.ts';
import type { ConversationMemory } from '../spi/conversation-memory.ts';
import { AudienceSink } from '../streaming/frame-sink.ts';
import { AtmosphereHeaders, STOP_PREFIX } from '@atmosphere/protocol';
import { RunRegistry } from '../streaming/run-registry.ts';
import { FrameStreamingSession } from '../streaming/streaming-session.ts';
import {
  type StructuredOutput,
  structuredOutput,
  type StructuredOutputOptions,
} from '../structured/structured-output.ts';
import { ApprovalRegistry, isApprovalMessage } from '../tools/approvals.ts';
import type { AiEndpointOptions, OnPrompt, StreamOptions } from './ai-endpoint-options.ts';
import { EndpointSession } from './ai-session.ts';
import { aiEndpointOptionsOf } from './decorators.ts';
import { parsePromptMessage } from './prompt-message.ts';

/** A registered AI endpoint. */
export interface AiEndpointHandle {
  readonly path: string;
  /** The runtime its prompts run on. */
  readonly runtime: AgentRuntime;
  readonly memory: ConversationMemory | undefined;
  readonly runs: RunRegistry;
  readonly approvals: ApprovalRegistry;
  /** Prompts running now. */
  readonly active: number;
  /** Resolves when no prompt is running. */
  idle(): Promise<void>;
  /** Unregisters the path, cancels running prompts and pending approvals. Idempotent. */
  close(): Promise<void>;
}

interface LiveRun {
  readonly session: EndpointSession;
  readonly audience: AudienceSink;
  request: AiRequest | undefined;
}

const DEFAULT_ON_PROMPT: OnPrompt = (prompt, session) => session.stream(prompt);

function compileOutput(
  value: StructuredOutputOptions | StructuredOutput | undefined,
): StructuredOutput | undefined {
  if (value === undefined) return undefined;
  return 'request' in value ? value : structuredOutput(value);
}

/**
 * Serves an AI endpoint on `options.path`: clients send prompts (plain text, or JSON `{"prompt":"…"}`) by
 * WebSocket frame or POST, and each prompt's answer streams back to the asker as AI frames (PROTOCOL.md §7)
 * through the runtime's broadcaster, so cache replay, filters, backpressure and clustering apply. Approval
 * answers (`/__approval/<id>/…`) arrive on the same connection. A client that re-connects with its tracking id
 * gets exactly the frames it missed (the runtime's queue); a new connection with `X-Atmosphere-Run-Id` (and
 * `X-Atmosphere-Last-Seq`) catches up on that run and then follows it live. When the asker leaves for good
 * (no reconnect within the grace period), the run is cancelled and the upstream model request aborted.
 *
 * `target` is an options object, or a class (or instance) decorated with `@AiEndpoint` / `@Prompt`. Throws
 * `PROVIDER_UNAVAILABLE` when there is no runtime, `INVALID_OPTION` when it lacks a required capability.
 */
export function aiEndpoint(atmosphere: Atmosphere, target: AiEndpointOptions | object): AiEndpointHandle {
  const options = (aiEndpointOptionsOf(target) ?? target) as AiEndpointOptions;
  if (typeof options.path !== 'string' || !options.path.startsWith('/')) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      'aiEndpoint needs a `path` starting with "/" (or a class decorated with @AiEndpoint).',
    );
  }
  const logger: Logger = atmosphere.logger;
  const runtime = options.runtime ?? atmosphere.provider('agent-runtime');
  if (!runtime) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      `No agent runtime for ${options.path}: import '@atmosphere/ai/register' (or depend on @atmosphere/ai so autoload finds it), or pass \`runtime\` (openAiRuntime(), demoRuntime()).`,
    );
  }
  const missing = (options.requires ?? []).filter((capability) => !runtime.capabilities.has(capability));
  if (missing.length > 0) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `${options.path} requires ${missing.join(', ')}, which runtime ${runtime.name} does not have; configure a runtime that does (LLM_API_KEY for the built-in one) or drop them from \`requires\`.`,
    );
  }
  if ((options.tools?.length ?? 0) > 0 && !runtime.capabilities.has('tool-calling')) {
    logger.warn(
      `${options.path}: runtime ${runtime.name} cannot call tools; its ${options.tools!.length} tool(s) will not be used (add 'tool-calling' to \`requires\` to fail at startup instead).`,
    );
  }
  if (options.structuredOutput && !runtime.capabilities.has('structured-output')) {
    logger.warn(
      `${options.path}: runtime ${runtime.name} has no JSON mode; structured output relies on the instruction in the system prompt.`,
    );
  }
  const memory: ConversationMemory | undefined =
    options.conversationMemory === false
      ? undefined
      : (options.conversationMemory ??
        atmosphere.provider('conversation-memory') ??
        new InMemoryConversationMemory({ maxMessages: options.maxHistoryMessages ?? 20 }));
  const output = compileOutput(options.structuredOutput);
  const onPrompt = options.onPrompt ?? DEFAULT_ON_PROMPT;
  const maxPromptLength = options.maxPromptLength ?? 100_000;
  const maxConcurrent = options.maxConcurrentPrompts ?? 4;
  const filters = options.filters ?? [];
  // A durable stream log (SQLite, Redis) keeps every run's frames, so a client re-attaching after a restart
  // catches up from it.
  const runs = new RunRegistry({
    ...options.runs,
    ...(atmosphere.log.durable ? { log: atmosphere.log, logger } : {}),
  });
  const approvals = new ApprovalRegistry(
    options.approvalTimeoutMs === undefined ? {} : { timeoutMs: options.approvalTimeoutMs },
  );
  const live = new Map<string, LiveRun>();
  const byResource = new Map<string, Set<LiveRun>>();
  const work = new Set<Promise<void>>();
  let closed = false;

  const broadcasterOf =
    (path: string): (() => Broadcaster | undefined) =>
    () => {
      const broadcaster = atmosphere.broadcasters.find(path);
      return broadcaster && !broadcaster.destroyed ? broadcaster : undefined;
    };

  const join = (run: LiveRun, resource: AtmosphereResource): void => {
    run.audience.add(resource);
    let set = byResource.get(resource.id);
    if (!set) byResource.set(resource.id, (set = new Set()));
    set.add(run);
  };

  /** A one-frame session to one client: bad input gets an `error` frame with a code. */
  const refuse = (
    resource: AtmosphereResource,
    code: Parameters<typeof aiError>[0],
    message: string,
  ): void => {
    if (resource.state === 'closed') return;
    const sink = new AudienceSink(broadcasterOf(resource.path), logger);
    sink.add(resource);
    new FrameStreamingSession({ sink, announceRunId: false, logger }).error(aiError(code, message));
  };

  const pipeline = (
    session: EndpointSession,
    run: LiveRun,
    message: string,
    overrides: StreamOptions,
  ): Promise<AiResponse> =>
    runAgent({
      runtime,
      session,
      message,
      systemPrompt: overrides.systemPrompt ?? options.systemPrompt,
      model: overrides.model ?? options.model,
      tools: overrides.tools ?? options.tools ?? [],
      memory,
      maxHistoryMessages: options.maxHistoryMessages ?? 20,
      conversationId: session.conversationId,
      interceptors: options.interceptors ?? [],
      structuredOutput:
        overrides.structuredOutput === undefined ? output : compileOutput(overrides.structuredOutput),
      metadata: { ...session.promptMetadata, ...overrides.metadata },
      resource: session.resource,
      approvals,
      mayAnswer: (id) => run.audience.has(id),
      approvalTimeoutMs: approvals.timeoutMs,
      maxToolRounds: options.maxToolRounds ?? 5,
      onRequest: (request) => (run.request = request),
      logger,
    });

  const start = (
    resource: AtmosphereResource,
    prompt: string,
    metadata: Readonly<Record<string, unknown>>,
    params: Readonly<Record<string, string>>,
  ): void => {
    const audience = new AudienceSink(broadcasterOf(resource.path), logger);
    audience.add(resource);
    const runId = randomUUID();
    const sessionId = randomUUID();
    const conversationId = options.conversationId ? options.conversationId(resource, metadata) : resource.id;
    const holder: { run?: LiveRun } = {};
    const session = new EndpointSession(
      { sink: audience, sessionId, runId, run: runs.start(runId, sessionId), logger },
      {
        resource,
        conversationId,
        metadata,
        prompt,
        run: (s, message, overrides) => pipeline(s, holder.run!, message, overrides),
      },
    );
    const run: LiveRun = { session, audience, request: undefined };
    holder.run = run;
    live.set(runId, run);
    join(run, resource);
    const task = (async () => {
      try {
        await onPrompt(prompt, session, { resource, params, metadata });
        session.complete();
      } catch (error) {
        logger.debug(`AI endpoint ${options.path}: onPrompt failed`, { error });
        session.error(error);
      } finally {
        live.delete(runId);
        for (const id of audience.targets) {
          const set = byResource.get(id);
          set?.delete(run);
          if (set?.size === 0) byResource.delete(id);
        }
      }
    })();
    work.add(task);
    void task.finally(() => work.delete(task));
  };

  /** A client (re)connected with `X-Atmosphere-Run-Id`: replay what it has not seen, then follow live. */
  const reattach = (resource: AtmosphereResource, runId: string): void => {
    const record = runs.get(runId);
    if (!record && runs.durable && !live.has(runId) && /^[A-Za-z0-9_-]{1,64}$/.test(runId)) {
      recoverRun(resource, runId);
      return;
    }
    if (!record) {
      refuse(
        resource,
        'UNKNOWN_RUN',
        `Run ${runId.slice(0, 64)} is unknown or expired; send the prompt again.`,
      );
      return;
    }
    const lastSeqText = resource.request.param(AtmosphereHeaders.lastSeq);
    const lastSeq = lastSeqText !== undefined && /^\d{1,15}$/.test(lastSeqText) ? Number(lastSeqText) : 0;
    const run = live.get(runId);
    const sink = run?.audience ?? new AudienceSink(broadcasterOf(resource.path), logger);
    // Replay and join in one synchronous step: no live frame can fall between them.
    for (const frame of record.framesAfter(lastSeq)) sink.writeTo(resource, frame);
    if (run && !run.session.closed && !run.audience.has(resource)) join(run, resource);
  };

  /** A run from before a restart: the frames the client missed from the durable log, ended by a terminal frame. */
  const recoverRun = (resource: AtmosphereResource, runId: string): void => {
    const lastSeqText = resource.request.param(AtmosphereHeaders.lastSeq);
    const lastSeq = lastSeqText !== undefined && /^\d{1,15}$/.test(lastSeqText) ? Number(lastSeqText) : 0;
    runs.recover(runId, lastSeq).then(
      (frames) => {
        if (frames === undefined) {
          refuse(resource, 'UNKNOWN_RUN', `Run ${runId} is unknown or expired; send the prompt again.`);
          return;
        }
        if (resource.state === 'closed') return;
        const sink = new AudienceSink(broadcasterOf(resource.path), logger);
        for (const frame of frames) sink.writeTo(resource, frame);
      },
      (error: unknown) => {
        logger.error(`AI endpoint ${options.path}: run ${runId} could not be recovered from the log`, {
          error,
        });
        refuse(
          resource,
          'UNKNOWN_RUN',
          `Run ${runId} could not be read back (${(error as Error).message}); send the prompt again.`,
        );
      },
    );
  };

  /** `/__stop/<runId>`: the user stops a run it is part of; the text so far stands. */
  const stop = (resource: AtmosphereResource, runId: string): void => {
    const run = live.get(runId);
    if (!run) {
      // A run that just finished is not an error: the stop and the end crossed.
      if (!runs.get(runId))
        refuse(resource, 'UNKNOWN_RUN', `Run ${runId.slice(0, 64)} is unknown or expired; nothing to stop.`);
      return;
    }
    if (!run.audience.has(resource)) {
      refuse(
        resource,
        'FORBIDDEN',
        `This client is not part of run ${runId.slice(0, 64)} and cannot stop it.`,
      );
      return;
    }
    run.session.stop();
  };

  const service: ManagedServiceRegistration = atmosphere.managed<string | Uint8Array>(
    options.path,
    {
      onReady(resource: AtmosphereResource, context: ManagedContext) {
        for (const filter of filters)
          if (!context.broadcaster.filters.includes(filter)) context.broadcaster.addFilter(filter);
        const runId = resource.request.runId;
        if (runId !== undefined && runId !== '') reattach(resource, runId);
      },
      onMessage(message: string | Uint8Array, resource: AtmosphereResource, context: ManagedContext) {
        if (closed) return;
        if (typeof message !== 'string') {
          refuse(
            resource,
            'INVALID_PROMPT',
            'Binary messages are not prompts: send text, or JSON {"prompt":"…"}.',
          );
          return;
        }
        if (isApprovalMessage(message)) {
          if (approvals.answer(message, resource.id) === 'unknown') {
            refuse(
              resource,
              'UNKNOWN_APPROVAL',
              'No pending approval with this id for this client (it may have been answered already or have expired).',
            );
          }
          return;
        }
        if (message.startsWith(STOP_PREFIX)) {
          stop(resource, message.slice(STOP_PREFIX.length).trim());
          return;
        }
        const parsed = parsePromptMessage(message, maxPromptLength);
        if (!parsed.ok) {
          refuse(resource, 'INVALID_PROMPT', parsed.message);
          return;
        }
        if ((byResource.get(resource.id)?.size ?? 0) >= maxConcurrent) {
          refuse(
            resource,
            'TOO_MANY_PROMPTS',
            `${maxConcurrent} prompts of this client are still running; wait for one to finish (option maxConcurrentPrompts).`,
          );
          return;
        }
        // Not awaited: the runtime hands a client's messages to onMessage one at a time, and approval answers
        // for this very prompt must get through while it runs.
        start(resource, parsed.value.prompt, parsed.value.metadata, context.params);
      },
      onDisconnect(resource: AtmosphereResource) {
        const set = byResource.get(resource.id);
        byResource.delete(resource.id);
        for (const run of set ?? []) {
          if (run.audience.remove(resource) > 0 || run.session.closed) continue;
          const context = { session: run.session, resource, signal: run.session.signal };
          for (const interceptor of options.interceptors ?? []) {
            try {
              if (run.request) interceptor.onDisconnect?.(run.request, context);
            } catch (error) {
              logger.error(`AI interceptor ${interceptor.name ?? ''}: onDisconnect threw`, { error });
            }
          }
          run.session.cancel(cancelledError('the client left'));
        }
      },
    },
    { codec: 'text', broadcaster: options.broadcaster ?? { destroyWhenEmpty: true } },
  );

  const idle = async (): Promise<void> => {
    while (work.size > 0) await Promise.allSettled([...work]);
  };

  return {
    path: options.path,
    runtime,
    memory,
    runs,
    approvals,
    get active() {
      return live.size;
    },
    idle,
    async close() {
      if (closed) return;
      closed = true;
      service.remove();
      for (const run of [...live.values()]) run.session.cancel(cancelledError('the endpoint closed'));
      approvals.close();
      await idle();
      runs.close();
    },
  };
}
