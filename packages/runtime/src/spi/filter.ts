/** A message as filters see it: text, or bytes for a binary message. */
export type FilterPayload = string | Uint8Array;

/**
 * What a filter decides. Return the (possibly changed) payload to pass it on; `null` to abort the broadcast;
 * `{ action: 'skip', payload }` to deliver it now without the remaining filters; `{ action: 'hold' }` to keep
 * it — the filter sends it (or something else) on later with `context.release()`.
 */
export type FilterResult =
  FilterPayload | null | { action: 'skip'; payload: FilterPayload } | { action: 'hold' };

/** What a filter is told about the broadcast it sees. */
export interface FilterContext {
  /** The broadcaster the message goes through. */
  readonly broadcaster: { readonly id: string };
  /** Tracking ids the broadcast is addressed to, when not to everyone. */
  readonly targets: readonly string[] | undefined;
  /**
   * Sends a payload on from this filter's position in the chain (the filters after it still run), with the
   * same targets. For filters that hold messages back (batching, redaction across token boundaries).
   */
  release(payload: FilterPayload): void;
}

/**
 * A step of a broadcaster's filter chain. Filters run in the order they were added, once per broadcast (not
 * once per subscriber), synchronously or asynchronously; a broadcaster never lets a later message overtake
 * one still in an async filter. A filter that throws (or rejects) aborts that broadcast: its caller gets
 * `FILTER_FAILED`, and the messages after it go on. Contract suite: `filterContract` in
 * `@atmosphere/runtime/testing`.
 */
export interface BroadcastFilter {
  readonly name: string;
  filter(payload: FilterPayload, context: FilterContext): FilterResult | Promise<FilterResult>;
}
