import type { AtmosphereInterceptor, ConnectContext, InboundPayload } from '../spi/interceptor.ts';
import type { AtmosphereResource } from '../spi/resource.ts';

function isPromise(value: unknown): value is Promise<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Runs every `onConnect` in order; synchronous unless an interceptor is not. */
export function runConnect(
  chain: readonly AtmosphereInterceptor[],
  context: ConnectContext,
): void | Promise<void> {
  for (let i = 0; i < chain.length; i++) {
    const interceptor = chain[i]!;
    if (!interceptor.onConnect) continue;
    const result = interceptor.onConnect(context);
    if (isPromise(result)) {
      return result.then(() => runConnect(chain.slice(i + 1), context));
    }
  }
}

/** Runs every `onInbound` in order; `undefined` means the message was dropped. */
export function runInbound(
  chain: readonly AtmosphereInterceptor[],
  message: InboundPayload,
  resource: AtmosphereResource,
  from = 0,
): InboundPayload | undefined | Promise<InboundPayload | undefined> {
  let current: InboundPayload | undefined = message;
  for (let i = from; i < chain.length; i++) {
    const interceptor = chain[i]!;
    if (!interceptor.onInbound) continue;
    const result: InboundPayload | undefined | Promise<InboundPayload | undefined> = interceptor.onInbound(
      current,
      resource,
    );
    if (isPromise(result)) {
      return result.then((resolved: InboundPayload | undefined) =>
        resolved === undefined ? undefined : runInbound(chain, resolved, resource, i + 1),
      );
    }
    current = result;
    if (current === undefined) return undefined;
  }
  return current;
}
