import type { AtmosphereClientError } from '../errors.ts';
import { credentials, httpError, isAbort, networkError } from './errors.ts';
import type { TransportConnection, TransportContext, TransportEvents } from './transport.ts';

/** What a transport over one long `fetch` response does with what arrives. */
export interface FetchStreamOptions {
  readonly transport: 'sse' | 'streaming';
  /** Extra request headers (`Accept` for SSE). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Handles one decoded chunk; may end the connection with an error (`finish`). Called only while open.
   */
  readonly onChunk: (chunk: string, finish: (error: AtmosphereClientError) => void) => void;
}

/**
 * One long GET read with `fetch` and a ReadableStream, decoded as UTF-8 chunk by chunk: the shared body of HTTP
 * streaming and SSE without `EventSource`. Ends with an error when the response is not a 2xx stream, when
 * the server ends it, or when the network fails; `close()` ends it quietly.
 */
export function openFetchStream(
  context: TransportContext,
  events: TransportEvents,
  options: FetchStreamOptions,
): TransportConnection {
  const { transport } = options;
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
      const response = await fetch(context.connectUrl(transport, false), {
        headers: { ...options.headers, ...context.request.headers },
        credentials: credentials(context.request.withCredentials),
        signal: controller.signal,
        cache: 'no-store',
      });
      if (!response.ok || !response.body) {
        void response.body?.cancel().catch(() => undefined);
        finish(
          response.ok
            ? networkError(transport, false, new Error('no response body'))
            : httpError(transport, response),
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
        options.onChunk(value, finish);
      }
      finish(networkError(transport, true, new Error('the server ended the stream')));
    } catch (error) {
      if (done || isAbort(error)) return;
      finish(networkError(transport, opened, error));
    }
  };
  void run();
  return {
    name: transport,
    close() {
      done = true;
      controller.abort();
    },
  };
}
