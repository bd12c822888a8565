import { type Atmosphere, AtmosphereError } from '@atmosphere/runtime';

/** Options of {@link liveEndpoints}. */
export interface LiveOptions {
  /** Milliseconds between two ticks on `/ticker`. Default 1000. */
  readonly tickMs?: number;
  /** Longest text accepted on `/live`, in characters. Default 500. */
  readonly maxTextLength?: number;
}

/** The live endpoints: `/ticker` and `/live`. */
export interface LiveEndpoints {
  /** The last tick sent (0 before the first). */
  readonly tick: number;
  /** Stops the ticker and unregisters both paths (connected clients stay until Atmosphere closes). */
  close(): void;
}

/** A message on `/live`, as broadcast to every client. */
export interface LiveMessage {
  readonly from: string;
  readonly text: string;
}

const MEMBER = /^[A-Za-z0-9_.:@+-]{1,128}$/;

/**
 * The message a client posted, validated; otherwise throws `BAD_REQUEST`, which reaches that client alone (an
 * error frame over WebSocket, HTTP 400 for a post).
 */
export function liveMessage(input: unknown, maxTextLength: number): LiveMessage {
  const { from, text } = (typeof input === 'object' && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  if (typeof from !== 'string' || !MEMBER.test(from))
    throw new AtmosphereError(
      'BAD_REQUEST',
      'Send {"from": "<1-128 of A-Z a-z 0-9 _ . : @ + ->", "text": "<your message>"}.',
      { status: 400 },
    );
  if (typeof text !== 'string' || text.trim() === '' || text.length > maxTextLength)
    throw new AtmosphereError(
      'BAD_REQUEST',
      `"text" must be a non-empty string of at most ${maxTextLength} characters.`,
      { status: 400 },
    );
  return { from, text: text.trim() };
}

/**
 * Two managed paths of live messages, besides AI and rooms:
 * - `/ticker`: the server pushes `{"n": <tick>}` to every client each `tickMs`; a new client gets the current
 *   tick at once.
 * - `/live`: a client posts `{"from", "text"}` (JSON); every client of the path, the sender included, receives
 *   it. Anything else is refused to the sender alone — `{"type":"error","code":"BAD_REQUEST",…}` over
 *   WebSocket, HTTP 400 for a post — nothing is broadcast and the connection stays open.
 */
export function liveEndpoints(atmosphere: Atmosphere, options: LiveOptions = {}): LiveEndpoints {
  const maxTextLength = options.maxTextLength ?? 500;
  let tick = 0;
  const ticker = atmosphere.managed('/ticker', {
    onReady(resource) {
      if (tick > 0) resource.write({ n: tick });
    },
  });
  const timer = setInterval(() => {
    tick++;
    // Nobody listening: no broadcaster to create, nothing to queue.
    void atmosphere.broadcasters.find('/ticker')?.broadcast({ n: tick });
  }, options.tickMs ?? 1000);
  timer.unref();
  const live = atmosphere.managed('/live', {
    // The returned message is broadcast to every client of `/live`.
    onMessage: (message) => liveMessage(message, maxTextLength),
  });
  return {
    get tick() {
      return tick;
    },
    close() {
      clearInterval(timer);
      ticker.remove();
      live.remove();
    },
  };
}
