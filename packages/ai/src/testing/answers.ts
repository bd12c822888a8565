import {
  type AiEventData,
  type AiEventName,
  type AiFrame,
  RUN_ID_METADATA_KEY,
} from '../streaming/frames.ts';

/** One session's frames, summarised. */
export interface AiAnswer {
  readonly sessionId: string;
  /** From the `X-Atmosphere-Run-Id` metadata frame. */
  readonly runId: string | undefined;
  /** The session's frames in arrival order. */
  readonly frames: readonly AiFrame[];
  /** The `streaming-text` frames joined. */
  readonly text: string;
  /** The `complete` or `error` frame, when it arrived. */
  readonly end: Extract<AiFrame, { type: 'complete' | 'error' }> | undefined;
  /** Metadata frames by key (last value wins). */
  readonly metadata: ReadonlyMap<string, unknown>;
  /** The data of every event frame with this name. */
  events<K extends AiEventName>(name: K): AiEventData[K][];
}

/** True for a `complete` or `error` frame. */
export function isTerminalFrame(frame: AiFrame): frame is Extract<AiFrame, { type: 'complete' | 'error' }> {
  return 'type' in frame && (frame.type === 'complete' || frame.type === 'error');
}

/** Summarises the frames of one session (frames of other sessions are ignored). */
export function answerOf(frames: readonly AiFrame[], sessionId: string): AiAnswer {
  const own = frames.filter((f) => f.sessionId === sessionId);
  let text = '';
  const metadata = new Map<string, unknown>();
  let end: AiAnswer['end'];
  for (const frame of own) {
    if ('type' in frame) {
      if (frame.type === 'streaming-text') text += frame.data;
      else if (frame.type === 'metadata') metadata.set(frame.key, frame.value);
      else if (isTerminalFrame(frame)) end ??= frame;
    }
  }
  const runId = metadata.get(RUN_ID_METADATA_KEY);
  return {
    sessionId,
    runId: typeof runId === 'string' ? runId : undefined,
    frames: own,
    text,
    end,
    metadata,
    events<K extends AiEventName>(name: K): AiEventData[K][] {
      return own
        .filter((f): f is Extract<AiFrame, { event: K }> => 'event' in f && f.event === name)
        .map((f) => f.data as AiEventData[K]);
    },
  };
}
