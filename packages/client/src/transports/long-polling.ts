import type { AtmosphereClientError } from '../errors.ts';
import { credentials, httpError, isAbort, networkError } from './errors.ts';
import type { TransportConnection, TransportContext, TransportEvents } from './transport.ts';

/**
 * Long-polling: a chain of GETs, each answered when messages are pending (or by a heartbeat), re-issued
 * at once. A suspended poll gives no sign of life, so the first request of a connection is one the server
 * answers immediately: the handshake poll on a first connection, else a plain `polling` request that
 * returns what is pending — that answer is what "opened" means here. Every poll carries the current
 * tracking id and received count, so a poll lost in flight is replayed by the next one.
 */
export function openLongPolling(context: TransportContext, events: TransportEvents): TransportConnection {
  const controller = new AbortController();
  let done = false;
  const finish = (error: AtmosphereClientError): void => {
    if (done) return;
    done = true;
    controller.abort();
    events.ended(error);
  };
  const poll = async (first: boolean): Promise<boolean> => {
    // The URL is built per poll: the handshake may just have assigned the tracking id, and the count grows.
    const transport = first && !context.expectsHandshake ? 'polling' : 'long-polling';
    const response = await fetch(context.connectUrl(transport, false), {
      headers: { ...context.request.headers },
      credentials: credentials(context.request.withCredentials),
      signal: controller.signal,
      cache: 'no-store',
    });
    if (!response.ok) {
      void response.body?.cancel().catch(() => undefined);
      finish(httpError('long-polling', response));
      return false;
    }
    if (done) return false;
    if (first) events.opened(response.headers);
    const body = await response.text();
    if (done) return false;
    events.text(body);
    if (done) return false;
    events.unitEnd();
    return !done;
  };
  const run = async (): Promise<void> => {
    let opened = false;
    try {
      if (!(await poll(true))) return;
      opened = true;
      while (!done) {
        if (!(await poll(false))) return;
      }
    } catch (error) {
      if (done || isAbort(error)) return;
      finish(networkError('long-polling', opened, error));
    }
  };
  void run();
  return {
    name: 'long-polling',
    close() {
      done = true;
      controller.abort();
    },
  };
}
