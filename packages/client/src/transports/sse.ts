import { SseParser } from '@atmosphere/protocol';
import { AtmosphereClientError } from '../errors.ts';
import { networkError } from './errors.ts';
import { openFetchStream } from './fetch-stream.ts';
import type { TransportConnection, TransportContext, TransportEvents } from './transport.ts';

/** The error an SSE `event:error` carries (`<code> <reason>`, sent when the server ends the stream). */
function serverError(data: string): AtmosphereClientError {
  const match = /^(\d+)\s*(.*)$/s.exec(data);
  const code = match ? Number(match[1]) : undefined;
  return new AtmosphereClientError(
    'SERVER_ERROR',
    `The server ended the event stream: ${data.slice(0, 200)}.`,
    {
      ...(code === undefined ? {} : { status: code }),
    },
  );
}

/**
 * Server-sent events. With `EventSource` (browsers): the platform parses the stream; its own
 * reconnection is disabled (closed on the first error) because it would reconnect with a stale URL —
 * the subscription reconnects with the current tracking id and received count instead. Without it (Node)
 * or with `sse: 'fetch'`: a fetch stream parsed by {@link SseParser}, which can also send headers.
 */
export function openSse(context: TransportContext, events: TransportEvents): TransportConnection {
  const EventSourceImpl = (globalThis as { EventSource?: typeof EventSource }).EventSource;
  if (context.request.sse === 'auto' && typeof EventSourceImpl === 'function') {
    return openEventSource(EventSourceImpl, context, events);
  }
  return openFetchSse(context, events);
}

function openEventSource(
  Impl: typeof EventSource,
  context: TransportContext,
  events: TransportEvents,
): TransportConnection {
  let done = false;
  let opened = false;
  const source = new Impl(context.connectUrl('sse', true), {
    withCredentials: context.request.withCredentials,
  });
  const finish = (error: AtmosphereClientError): void => {
    if (done) return;
    done = true;
    source.close();
    events.ended(error);
  };
  source.onopen = () => {
    if (done) return;
    opened = true;
    events.opened(undefined);
  };
  source.onmessage = (event: MessageEvent<string>) => {
    if (!done) events.text(event.data);
  };
  source.addEventListener('error', (event: Event) => {
    // A server-sent `event:error` is a MessageEvent with data; a connection failure is a plain Event.
    const data = (event as MessageEvent<unknown>).data;
    if (typeof data === 'string') finish(serverError(data));
    else finish(networkError('sse', opened));
  });
  return {
    name: 'sse',
    close() {
      done = true;
      source.close();
    },
  };
}

function openFetchSse(context: TransportContext, events: TransportEvents): TransportConnection {
  const parser = new SseParser();
  let ended = false;
  return openFetchStream(context, events, {
    transport: 'sse',
    headers: { Accept: 'text/event-stream' },
    onChunk: (chunk, finish) => {
      for (const { type, data } of parser.push(chunk)) {
        // Events after an `event:error` in the same chunk are not delivered.
        if (ended) return;
        if (type === 'message') events.text(data);
        else if (type === 'error') {
          ended = true;
          finish(serverError(data));
        }
      }
    },
  });
}
