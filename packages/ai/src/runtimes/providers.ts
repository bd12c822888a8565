import type { Availability, Provider, ProviderContext } from '@atmosphere/runtime/spi';
import {
  InMemoryConversationMemory,
  type InMemoryConversationMemoryOptions,
} from '../memory/in-memory-conversation-memory.ts';
import type { AgentRuntime } from '../spi/agent-runtime.ts';
import { DemoRuntime, type DemoRuntimeOptions } from './demo/demo-runtime.ts';
import type { LlmConfigInput, LlmMode } from './openai/config.ts';
import { OpenAiCompatibleRuntime, type OpenAiRuntimeOptions } from './openai/openai-runtime.ts';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** `createAtmosphere({ settings: { 'agent-runtime': { model, apiKey, baseUrl, mode } } })`. */
function fromSettings(settings: Readonly<Record<string, unknown>>): LlmConfigInput {
  const config: { mode?: LlmMode; model?: string; apiKey?: string; baseUrl?: string } = {};
  const mode = text(settings['mode']);
  if (mode !== undefined) config.mode = mode as LlmMode;
  const model = text(settings['model']);
  if (model !== undefined) config.model = model;
  const apiKey = text(settings['apiKey']);
  if (apiKey !== undefined) config.apiKey = apiKey;
  const baseUrl = text(settings['baseUrl']);
  if (baseUrl !== undefined) config.baseUrl = baseUrl;
  return config;
}

function builtIn(context: ProviderContext, options: OpenAiRuntimeOptions): OpenAiCompatibleRuntime {
  return new OpenAiCompatibleRuntime({
    env: context.env,
    logger: context.logger,
    ...fromSettings(context.settings),
    ...options,
  });
}

/**
 * The built-in OpenAI-compatible runtime as a provider of kind `agent-runtime` (priority 0). Available when a
 * key is configured (or `LLM_MODE=local` and Ollama answers); the reason says which variable to set otherwise.
 */
export function builtInRuntimeProvider(options: OpenAiRuntimeOptions = {}): Provider<'agent-runtime'> {
  return {
    kind: 'agent-runtime',
    name: options.name ?? 'built-in',
    priority: options.priority ?? 0,
    async isAvailable(context): Promise<Availability> {
      try {
        return await builtIn(context, options).isAvailable();
      } catch (error) {
        return { available: false, reason: (error as Error).message };
      }
    },
    create: (context) => builtIn(context, options),
  };
}

/** The demo model as a provider of kind `agent-runtime` (priority -100, always available: the last resort). */
export function demoRuntimeProvider(options: DemoRuntimeOptions = {}): Provider<'agent-runtime'> {
  return {
    kind: 'agent-runtime',
    name: options.name ?? 'demo',
    priority: options.priority ?? -100,
    isAvailable: () => true,
    create: () => new DemoRuntime(options),
  };
}

/** Any runtime instance as a provider (for explicit registration: `createAtmosphere({ providers: [...] })`). */
export function agentRuntimeProvider(runtime: AgentRuntime): Provider<'agent-runtime'> {
  return {
    kind: 'agent-runtime',
    name: runtime.name,
    priority: runtime.priority,
    isAvailable: () => runtime.isAvailable(),
    create: () => runtime,
  };
}

/** The in-memory conversation store as a provider of kind `conversation-memory` (priority 0). */
export function inMemoryConversationMemoryProvider(
  options: InMemoryConversationMemoryOptions = {},
): Provider<'conversation-memory'> {
  return {
    kind: 'conversation-memory',
    name: 'in-memory',
    priority: 0,
    isAvailable: () => true,
    create: () => new InMemoryConversationMemory(options),
  };
}
