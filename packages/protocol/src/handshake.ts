import { ProtocolError } from './errors.ts';
import { PADDING_CHAR } from './framing.ts';
import { TRACKING_ID_PATTERN } from './parameters.ts';

/** What the server's first write says (PROTOCOL.md §2). */
export interface Handshake {
  /** The tracking id the server assigned: the client's identity for replay, posts and close. */
  readonly trackingId: string;
  /** How often the client must send its heartbeat, in ms; 0 = never. */
  readonly heartbeatMs: number;
  /** The heartbeat payload, and the message the client drops as a server heartbeat. */
  readonly paddingChar: string;
}

/** The handshake text: `<uuid>|<clientHeartbeatMs>|<paddingChar>|`. */
export function handshakeText(
  trackingId: string,
  clientHeartbeatMs: number,
  paddingChar = PADDING_CHAR,
): string {
  return `${trackingId}|${clientHeartbeatMs}|${paddingChar}|`;
}

const HANDSHAKE = /^\s*([A-Za-z0-9_-]{1,128})\|(\d{1,9})\|([^|]*)\|/;

/**
 * Parses a handshake message (already unframed). Returns the handshake and the text after it (non-empty
 * only when an unframed stream put messages in the same chunk). Throws a {@link ProtocolError}
 * (`PROTOCOL_ERROR`) when the text is not a handshake.
 */
export function parseHandshake(text: string): { handshake: Handshake; rest: string } {
  const match = HANDSHAKE.exec(text);
  if (!match || !TRACKING_ID_PATTERN.test(match[1]!)) {
    throw new ProtocolError(
      'PROTOCOL_ERROR',
      `Expected the Atmosphere handshake (\`<id>|<heartbeat ms>|<padding>|\`), got ${JSON.stringify(text.slice(0, 60))}. ` +
        'Does the server speak the Atmosphere protocol? Set `enableProtocol: false` for one that sends no handshake.',
    );
  }
  return {
    handshake: {
      trackingId: match[1]!,
      heartbeatMs: Number(match[2]),
      paddingChar: match[3] || PADDING_CHAR,
    },
    rest: text.slice(match[0].length),
  };
}
