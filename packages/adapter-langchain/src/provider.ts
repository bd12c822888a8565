import { type AgentRuntime } from '@atmosphere/ai/spi';
import type { Availability, Provider, ProviderContext } from '@atmosphere/runtime/spi';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { LANGCHAIN_RUNTIME, LangChainRuntime, type LangChainRuntimeOptions } from './langchain-runtime.ts';

/** The setting the register entry reads: `createAtmosphere({ settings: { 'agent-runtime': { langchainModel } } })`. */
export const LANGCHAIN_MODEL_SETTING = 'langchainModel';

/**
 * The LangChain runtime as a provider of kind `agent-runtime` (name `langchain`, priority 100):
 * `createAtmosphere({ providers: [langChain({ model })] })`. It wins over the built-in runtime (0) and the demo
 * model (-100) for AI endpoints and AI room members alike.
 */
export function langChain(options: LangChainRuntimeOptions): Provider<'agent-runtime'> {
  const runtime = new LangChainRuntime(options);
  return {
    kind: 'agent-runtime',
    name: runtime.name,
    priority: runtime.priority,
    isAvailable: (): Availability => true,
    create: (): AgentRuntime => runtime,
  };
}

function modelOf(context: ProviderContext): BaseChatModel | undefined {
  const value = context.settings[LANGCHAIN_MODEL_SETTING];
  return value !== null &&
    typeof value === 'object' &&
    typeof (value as { stream?: unknown }).stream === 'function'
    ? (value as BaseChatModel)
    : undefined;
}

/**
 * The provider the `register` entry registers: available only when the application passed a chat model in the
 * settings (`settings: { 'agent-runtime': { langchainModel: model } }`). Without one it reports itself
 * unavailable and says how to configure it, so the startup line tells why another runtime won.
 */
export function langChainFromSettings(
  options: Omit<LangChainRuntimeOptions, 'model'> = {},
): Provider<'agent-runtime'> {
  return {
    kind: 'agent-runtime',
    name: options.name ?? LANGCHAIN_RUNTIME.name,
    priority: options.priority ?? LANGCHAIN_RUNTIME.priority,
    isAvailable(context): Availability {
      if (context.settings[LANGCHAIN_MODEL_SETTING] === undefined)
        return {
          available: false,
          reason: `no LangChain model configured; pass langChain({ model }) in createAtmosphere({ providers }), or settings['agent-runtime'].${LANGCHAIN_MODEL_SETTING}`,
        };
      if (modelOf(context) === undefined)
        return {
          available: false,
          reason: `settings['agent-runtime'].${LANGCHAIN_MODEL_SETTING} is not a LangChain chat model (it has no stream()); pass a BaseChatModel such as new ChatOpenAI({ model })`,
        };
      return true;
    },
    create(context): AgentRuntime {
      const model = modelOf(context);
      if (model === undefined)
        throw new Error(`settings['agent-runtime'].${LANGCHAIN_MODEL_SETTING} is not a LangChain chat model`);
      return new LangChainRuntime({ ...options, model });
    },
  };
}
