import type { AiEndpointOptions, OnPrompt } from './ai-endpoint-options.ts';

const METADATA = Symbol.for('@atmosphere/ai-endpoint');

interface EndpointMetadata {
  options?: Omit<AiEndpointOptions, 'onPrompt'>;
  prompt?: string | symbol;
}

// Standard decorators keep per-class metadata on `Symbol.metadata`, which not every runtime defines yet.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');

function own(metadata: DecoratorMetadataObject): EndpointMetadata {
  const record = metadata as Record<symbol, EndpointMetadata | undefined>;
  const current = Object.hasOwn(record, METADATA) ? record[METADATA]! : { ...record[METADATA] };
  record[METADATA] = current;
  return current;
}

/**
 * Class decorator (TC39 standard decorators): the class is an AI endpoint. Register an instance (or the class,
 * constructed without arguments) with `aiEndpoint(atmosphere, target)`.
 *
 * ```ts
 * @AiEndpoint({ path: '/ai/chat', systemPrompt: 'You are helpful.' })
 * class Chat {
 *   @Prompt()
 *   async onPrompt(prompt: string, session: AiSession) { await session.stream(prompt); }
 * }
 * ```
 */
export function AiEndpoint(options: Omit<AiEndpointOptions, 'onPrompt'>) {
  return (_target: abstract new (...args: never[]) => unknown, context: ClassDecoratorContext): void => {
    own(context.metadata).options = options;
  };
}

/** Method decorator: the endpoint's `onPrompt` (called with the prompt, the session and the prompt context). */
export function Prompt() {
  return (_value: (...args: never[]) => unknown, context: ClassMethodDecoratorContext): void => {
    own(context.metadata).prompt = context.name;
  };
}

/** The options of an instance (or class) decorated with `@AiEndpoint`, its `@Prompt` method bound; else undefined. */
export function aiEndpointOptionsOf(target: object): AiEndpointOptions | undefined {
  const ctor = (typeof target === 'function' ? target : (target as { constructor?: unknown }).constructor) as
    { [key: symbol]: unknown } | undefined;
  const metadata = ctor?.[Symbol.metadata as symbol] as
    Record<symbol, EndpointMetadata | undefined> | undefined;
  const found = metadata?.[METADATA];
  if (!found?.options) return undefined;
  const instance = typeof target === 'function' ? new (target as new () => object)() : target;
  const name = found.prompt;
  const method = name === undefined ? undefined : (instance as Record<string | symbol, unknown>)[name];
  if (typeof method !== 'function') return { ...found.options };
  return { ...found.options, onPrompt: (method as OnPrompt).bind(instance) };
}
