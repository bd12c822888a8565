import type { ManagedHandler, ManagedOptions } from './managed.ts';

const METADATA = Symbol.for('@atmosphere/managed-service');

interface ServiceMetadata {
  path?: string;
  options?: ManagedOptions;
  ready?: string | symbol;
  message?: string | symbol;
  disconnect?: string | symbol;
  heartbeat?: string | symbol;
}

// Standard decorators keep per-class metadata on `Symbol.metadata`, which not every runtime defines yet.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');

type MethodDecorator = (value: (...args: never[]) => unknown, context: ClassMethodDecoratorContext) => void;

function methodDecorator(slot: 'ready' | 'message' | 'disconnect' | 'heartbeat'): () => MethodDecorator {
  return () => (_value, context) => {
    const metadata = context.metadata as Record<symbol, ServiceMetadata | undefined>;
    const own = Object.hasOwn(metadata, METADATA) ? metadata[METADATA]! : { ...metadata[METADATA] };
    own[slot] = context.name;
    metadata[METADATA] = own;
  };
}

/**
 * Class decorator (TC39 standard decorators): the class is a managed service on `path`. Register an
 * instance (or the class, which is then constructed without arguments) with `atmosphere.register()`.
 */
export function ManagedService(path: string, options: ManagedOptions = {}) {
  return (_target: abstract new (...args: never[]) => unknown, context: ClassDecoratorContext): void => {
    const metadata = context.metadata as Record<symbol, ServiceMetadata | undefined>;
    const own = Object.hasOwn(metadata, METADATA) ? metadata[METADATA]! : { ...metadata[METADATA] };
    own.path = path;
    own.options = options;
    metadata[METADATA] = own;
  };
}

/** Method decorator: called as `onReady`. */
export const Ready = methodDecorator('ready');
/** Method decorator: called as `onMessage`; its return value is broadcast. */
export const Message = methodDecorator('message');
/** Method decorator: called as `onDisconnect`. */
export const Disconnect = methodDecorator('disconnect');
/** Method decorator: called as `onHeartbeat`. */
export const Heartbeat = methodDecorator('heartbeat');

/** The path, options and handler of a decorated instance (or class), or undefined when it is not decorated. */
export function managedServiceOf(
  target: object,
): { path: string; options: ManagedOptions; handler: ManagedHandler<never> } | undefined {
  const instance = typeof target === 'function' ? new (target as new () => object)() : target;
  const ctor = (instance as { constructor?: { [key: symbol]: unknown } }).constructor;
  const metadata = ctor?.[Symbol.metadata as symbol] as
    Record<symbol, ServiceMetadata | undefined> | undefined;
  const service = metadata?.[METADATA];
  if (!service?.path) return undefined;
  const bind = (name: string | symbol | undefined): ((...args: never[]) => unknown) | undefined => {
    if (name === undefined) return undefined;
    const method = (instance as Record<string | symbol, unknown>)[name];
    return typeof method === 'function'
      ? (method as (...args: never[]) => unknown).bind(instance)
      : undefined;
  };
  const handler: Record<string, unknown> = {};
  const entries = [
    ['onReady', service.ready],
    ['onMessage', service.message],
    ['onDisconnect', service.disconnect],
    ['onHeartbeat', service.heartbeat],
  ] as const;
  for (const [hook, name] of entries) {
    const bound = bind(name);
    if (bound) handler[hook] = bound;
  }
  return { path: service.path, options: service.options ?? {}, handler: handler };
}
