import type { StreamPosition } from '@atmosphere/protocol';

/**
 * A message on its way to clients, as outbound interceptors see it: serialised once per broadcast and shared
 * by every recipient, so an interceptor that changes it returns a new payload instead of editing it.
 */
export interface OutboundMessage {
  /** The payload after filters: text, or bytes for a binary message. */
  readonly payload: string | Uint8Array;
  /** True for a binary payload. */
  readonly binary: boolean;
  /** The text payload (a binary payload decoded as UTF-8, for logs and filters). */
  readonly text: string;
  /** The broadcaster that produced it, when one did. */
  readonly source: string | undefined;
  /** Its position in the source's stream, once the log gave it one. */
  readonly position: StreamPosition | undefined;
}
