import { delay, now } from '../lib/clock.ts';
import type { TokenStream } from './target.ts';

/** Short tokens, the size a model streams (3–6 characters). */
const TOKENS = [
  'The',
  ' quick',
  ' brown',
  ' fox',
  ' jumps',
  ' over',
  ' the',
  ' lazy',
  ' dog',
  '.',
  ' It',
  ' was',
  ' fast',
  ',',
];

/** The token text of frame `i`. */
export function tokenText(i: number): string {
  return TOKENS[i % TOKENS.length]!;
}

/**
 * Emits `stream.count` tokens through `send` — back to back in one turn, or one every `intervalMs` — and
 * returns the send time (ms, shared clock) of each, indexed by the frame's `seq` as `send` reports it.
 */
export async function emitTokens(stream: TokenStream, send: (text: string) => number): Promise<number[]> {
  const sentAt: number[] = [];
  const started = performance.now();
  for (let i = 0; i < stream.count; i++) {
    if (stream.intervalMs > 0) {
      const wait = started + i * stream.intervalMs - performance.now();
      if (wait > 1) await delay(wait);
    }
    const at = now();
    const seq = send(tokenText(i));
    sentAt[seq] = at;
  }
  return sentAt;
}
