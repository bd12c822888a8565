import type { Atmosphere, Logger } from '@atmosphere/runtime';
import { AtmosphereError } from '@atmosphere/runtime';
import { InMemoryConversationMemory } from '../memory/in-memory-conversation-memory.ts';
import type { AgentRuntime } from '../spi/agent-runtime.ts';
import type { ConversationMemory } from '../spi/conversation-memory.ts';
import type { RunRegistry } from '../streaming/run-registry.ts';
import type { ApprovalRegistry } from '../tools/approvals.ts';
import type { AiEndpointOptions } from './ai-endpoint-options.ts';
import { aiEndpointOptionsOf } from './decorators.ts';
import { EndpointRuns } from './endpoint-runs.ts';
import { pricingProblem } from '../telemetry/ai-telemetry.ts';
import { attachmentLimits } from '../pipeline/attachment-limits.ts';
import { checkPromptCacheOption } from '../pipeline/prompt-cache.ts';

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
  const options = endpointOptions(target);
  const runtime = selectRuntime(atmosphere, options);
  checkCapabilities(runtime, options, atmosphere.logger);
  const memory = conversationMemoryOf(atmosphere, options);
  const runs = new EndpointRuns(atmosphere, options, runtime, memory);
  const service = atmosphere.managed<string | Uint8Array>(options.path, runs.handler(), {
    codec: 'text',
    broadcaster: options.broadcaster ?? { destroyWhenEmpty: true },
  });
  return {
    path: options.path,
    runtime,
    memory,
    runs: runs.records,
    approvals: runs.approvals,
    get active() {
      return runs.active;
    },
    idle: () => runs.idle(),
    async close() {
      if (runs.closed) return;
      service.remove();
      await runs.close();
    },
  };
}

/** The options of an options object or a decorated class; the path must be absolute. */
function endpointOptions(target: AiEndpointOptions | object): AiEndpointOptions {
  const options = (aiEndpointOptionsOf(target) ?? target) as AiEndpointOptions;
  if (typeof options.path !== 'string' || !options.path.startsWith('/')) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      'aiEndpoint needs a `path` starting with "/" (or a class decorated with @AiEndpoint).',
    );
  }
  const problem = options.pricing === undefined ? undefined : pricingProblem(options.pricing);
  if (problem !== undefined)
    throw new AtmosphereError('INVALID_OPTION', `aiEndpoint ${options.path}: \`pricing\`: ${problem}.`);
  const retries = options.retry?.maxRetries;
  if (options.retry !== undefined && !(Number.isSafeInteger(retries) && retries! >= 0 && retries! <= 10))
    throw new AtmosphereError(
      'INVALID_OPTION',
      `aiEndpoint ${options.path}: \`retry.maxRetries\` must be an integer from 0 to 10; got ${String(retries)}.`,
    );
  checkPromptCacheOption(options.promptCache, `aiEndpoint ${options.path}`);
  attachmentLimits(options.attachments, `aiEndpoint ${options.path}`);
  return options;
}

/** The runtime passed in, else the registry's selection of kind `agent-runtime` (one path for endpoints and rooms). */
function selectRuntime(atmosphere: Atmosphere, options: AiEndpointOptions): AgentRuntime {
  const runtime = options.runtime ?? atmosphere.provider('agent-runtime');
  if (!runtime) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      `No agent runtime for ${options.path}: import '@atmosphere/ai/register' (or depend on @atmosphere/ai so autoload finds it), or pass \`runtime\` (openAiRuntime(), demoRuntime()).`,
    );
  }
  return runtime;
}

/** Fails on a required capability the runtime lacks; warns where a configured feature will not apply. */
function checkCapabilities(runtime: AgentRuntime, options: AiEndpointOptions, logger: Logger): void {
  const missing = (options.requires ?? []).filter((capability) => !runtime.capabilities.has(capability));
  if (missing.length > 0) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `${options.path} requires ${missing.join(', ')}, which runtime ${runtime.name} does not have; configure a runtime that does (LLM_API_KEY for the built-in one) or drop them from \`requires\`.`,
    );
  }
  const tools = options.tools?.length ?? 0;
  if (tools > 0 && !runtime.capabilities.has('tool-calling')) {
    logger.warn(
      `${options.path}: runtime ${runtime.name} cannot call tools; its ${tools} tool(s) will not be used (add 'tool-calling' to \`requires\` to fail at startup instead).`,
    );
  }
  if (options.structuredOutput && !runtime.capabilities.has('structured-output')) {
    logger.warn(
      `${options.path}: runtime ${runtime.name} has no JSON mode; structured output relies on the instruction in the system prompt.`,
    );
  }
}

/** The store passed in, else the registry's `conversation-memory`, else memory; none when turned off. */
function conversationMemoryOf(
  atmosphere: Atmosphere,
  options: AiEndpointOptions,
): ConversationMemory | undefined {
  if (options.conversationMemory === false) return undefined;
  return (
    options.conversationMemory ??
    atmosphere.provider('conversation-memory') ??
    new InMemoryConversationMemory({ maxMessages: options.maxHistoryMessages ?? 20 })
  );
}
