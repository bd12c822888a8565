import { now } from './clock.ts';

/** Size of every fan-out message, in bytes (ASCII JSON). */
export const PAYLOAD_BYTES = 64;

/**
 * A 64-byte JSON message carrying the send time and a sequence number: `{"t":…,"s":…,"p":"xxx…"}`. The
 * padding field makes every message exactly {@link PAYLOAD_BYTES} long whatever the digits.
 */
export function makePayload(seq: number, sentAt = now()): string {
  const head = `{"t":${sentAt.toFixed(3)},"s":${seq},"p":"`;
  const padding = PAYLOAD_BYTES - head.length - 2;
  return `${head}${'x'.repeat(padding > 0 ? padding : 0)}"}`;
}

/** What a client needs from a payload: its send time (ms) and sequence number. */
export interface PayloadStamp {
  sentAt: number;
  seq: number;
}

/**
 * Reads `t` and `s` without a full `JSON.parse` (the same cheap work for every implementation's clients, so
 * client CPU goes to the transport, not to the measurement). Returns undefined for anything else.
 */
export function readPayload(text: string, into: PayloadStamp): boolean {
  if (!text.startsWith('{"t":')) return false;
  const comma = text.indexOf(',', 5);
  const seqEnd = text.indexOf(',', comma + 5);
  if (comma === -1 || seqEnd === -1) return false;
  into.sentAt = Number(text.slice(5, comma));
  into.seq = Number(text.slice(comma + 5, seqEnd));
  return true;
}
