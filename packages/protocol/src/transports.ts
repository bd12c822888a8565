/**
 * The transports of the protocol (PROTOCOL.md §4), in their canonical spelling. `polling` is plain
 * request/response; our client speaks the other four.
 */
export const TRANSPORTS = ['websocket', 'sse', 'long-polling', 'streaming', 'polling'] as const;

/** A transport of the protocol. */
export type TransportName = (typeof TRANSPORTS)[number];

/** What `X-Atmosphere-Transport` may say: a transport, or `close` (the explicit close request, §5). */
export type TransportParameter = TransportName | 'close';

/** The transports `@atmosphere/client` speaks, in its default fallback order. */
export const CLIENT_TRANSPORTS = ['websocket', 'sse', 'streaming', 'long-polling'] as const;

/** A transport `@atmosphere/client` speaks. */
export type ClientTransportName = (typeof CLIENT_TRANSPORTS)[number];

const PARAMETERS: ReadonlySet<string> = new Set<string>([...TRANSPORTS, 'close']);

/**
 * The canonical name for any accepted spelling (`LONG_POLLING`, `long-polling`, ` Long_Polling `), else
 * undefined. `-` and `_` are equivalent, case is ignored (§1).
 */
export function normalizeTransport(value: string): TransportParameter | undefined {
  if (PARAMETERS.has(value)) return value as TransportParameter;
  const canonical = value.trim().toLowerCase().replaceAll('_', '-');
  return PARAMETERS.has(canonical) ? (canonical as TransportParameter) : undefined;
}
