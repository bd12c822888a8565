import { credentials, httpError, isAbort, networkError } from './errors.ts';
import type { TransportConnection, TransportContext, TransportEvents } from './transport.ts';
import type { AtmosphereClientError } from '../errors.ts';

/**
 * HTTP streaming: one long GET read with `fetch` and a ReadableStream; each decoded chunk goes to the
 * framing parser, so a message split anywhere — even inside its length prefix — is reassembled.
 */
export function openStreaming(context: TransportContext, events: TransportEvents): TransportConnection {
  const controller = new AbortController();
  let done = false;
  const finish = (error: AtmosphereClientError): void => {
    if (done) return;
    done = true;
    controller.abort();
    events.ended(error);
  };
  const run = async (): Promise<void> => {
    let opened = false;
    try {
      const response = await fetch(context.connectUrl('streaming', false), {
        headers: { ...context.request.headers },
        credentials: credentials(context.request.withCredentials),
        signal: controller.signal,
        cache: 'no-store',
      });
      if (!response.ok || !response.body) {
        void response.body?.cancel().catch(() => undefined);
        finish(
          response.ok
            ? networkError('streaming', false, new Error('no response body'))
            : httpError('streaming', response),
        );
        return;
      }
      if (done) return;
      opened = true;
      events.opened(response.headers);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done: end } = await reader.read();
        if (done) return;
        if (end) break;
        events.text(value);
      }
      finish(networkError('streaming', true, new Error('the server ended the stream')));
    } catch (error) {
      if (done || isAbort(error)) return;
      finish(networkError('streaming', opened, error));
    }
  };
  void run();
  return {
    name: 'streaming',
    close() {
      done = true;
      controller.abort();
    },
  };
}
