import type { Availability, Provider } from '@atmosphere/runtime/spi';
import { VercelAiRuntime, type VercelAiRuntimeOptions } from './runtime/vercel-ai-runtime.ts';

/** The environment variable naming the model the register entry uses (an AI SDK model id, e.g. `openai/gpt-4o-mini`). */
export const MODEL_ENV = 'AI_SDK_MODEL';

/**
 * The AI SDK runtime as a provider of kind `agent-runtime` (name `vercel-ai`, priority 100, so it wins over the
 * built-in runtime, 0, and the demo model, -100): `createAtmosphere({ providers: [vercelAiRuntimeProvider({
 * model: openai('gpt-4o-mini') })] })`.
 */
export function vercelAiRuntimeProvider(options: VercelAiRuntimeOptions): Provider<'agent-runtime'> {
  return {
    kind: 'agent-runtime',
    name: options.name ?? 'vercel-ai',
    priority: options.priority ?? 100,
    isAvailable: (): Availability => true,
    create: () => new VercelAiRuntime(options),
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * The provider the `register` entry registers: available only when a model id is configured — the `model`
 * setting (`createAtmosphere({ settings: { 'agent-runtime': { model } } })`) or `AI_SDK_MODEL` — and the SDK can
 * resolve ids (a global provider set with `globalThis.AI_SDK_DEFAULT_PROVIDER`, or `AI_GATEWAY_API_KEY` for the
 * AI Gateway). Otherwise the reason says what to set, and the startup line shows it.
 */
export function vercelAiRuntimeFromEnvironment(): Provider<'agent-runtime'> {
  const modelOf = (
    settings: Readonly<Record<string, unknown>>,
    env: Readonly<Record<string, string | undefined>>,
  ) => text(settings['model']) ?? text(env[MODEL_ENV]);
  return {
    kind: 'agent-runtime',
    name: 'vercel-ai',
    priority: 100,
    isAvailable(context): Availability {
      const model = modelOf(context.settings, context.env);
      if (model === undefined)
        return {
          available: false,
          reason: `no AI SDK model configured: set ${MODEL_ENV} (with AI_GATEWAY_API_KEY), or register vercelAiRuntimeProvider({ model })`,
        };
      const global = (globalThis as { AI_SDK_DEFAULT_PROVIDER?: unknown }).AI_SDK_DEFAULT_PROVIDER;
      if (global === undefined && text(context.env['AI_GATEWAY_API_KEY']) === undefined)
        return {
          available: false,
          reason: `${MODEL_ENV}=${model} needs a provider to resolve it: set AI_GATEWAY_API_KEY, or globalThis.AI_SDK_DEFAULT_PROVIDER`,
        };
      return true;
    },
    create: (context) => new VercelAiRuntime({ model: modelOf(context.settings, context.env)! }),
  };
}
