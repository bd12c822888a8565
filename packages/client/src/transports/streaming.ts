import { openFetchStream } from './fetch-stream.ts';
import type { TransportConnection, TransportContext, TransportEvents } from './transport.ts';

/**
 * HTTP streaming: one long GET read with `fetch` and a ReadableStream; each decoded chunk goes to the
 * framing parser, so a message split anywhere — even inside its length prefix — is reassembled.
 */
export function openStreaming(context: TransportContext, events: TransportEvents): TransportConnection {
  return openFetchStream(context, events, { transport: 'streaming', onChunk: (chunk) => events.text(chunk) });
}
