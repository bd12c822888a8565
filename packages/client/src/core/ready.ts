import { AtmosphereClientError } from '../errors.ts';
import type { Emitter } from './emitter.ts';
import type { ConnectionState, SubscriptionEvents } from './events.ts';
import type { ResolvedRequest } from './request.ts';

/**
 * Resolves once the subscription is connected (at once if it is). Rejects with `CLOSED` when it closes or
 * gives up first, and with `ABORTED` when `signal` aborts.
 */
export function whenConnected(
  subscription: { readonly state: ConnectionState; readonly request: ResolvedRequest },
  emitter: Emitter<SubscriptionEvents>,
  lastError: () => AtmosphereClientError | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const closed = (state: ConnectionState): AtmosphereClientError =>
    new AtmosphereClientError('CLOSED', `The subscription to ${subscription.request.url} is ${state}.`, {
      cause: lastError(),
    });
  if (subscription.state === 'connected') return Promise.resolve();
  if (subscription.state === 'closed' || subscription.state === 'error')
    return Promise.reject(closed(subscription.state));
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stop();
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      cleanup();
      reject(
        new AtmosphereClientError('ABORTED', 'Waiting for the connection was aborted.', {
          cause: signal?.reason,
        }),
      );
    };
    const stop = emitter.on('state', (state) => {
      if (state === 'connected') {
        cleanup();
        resolve();
      } else if (state === 'closed' || state === 'error') {
        cleanup();
        reject(closed(state));
      }
    });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
