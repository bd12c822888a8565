import {
  type AiEventData,
  type AiEventName,
  type AiFrame,
  isTerminalFrame,
  RUN_ID_METADATA_KEY,
  type TerminalAiFrame,
} from '@atmosphere/protocol';

export { isTerminalFrame };

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
  readonly end: TerminalAiFrame | undefined;
  /** Metadata frames by key (last value wins). */
  readonly metadata: ReadonlyMap<string, unknown>;
  /** The data of every event frame with this name. */
  events<K extends AiEventName>(name: K): AiEventData[K][];
}

/** Summarises the frames of one session (frames of other sessions are ignored). */
export function answerOf(frames: readonly AiFrame[], sessionId: string): AiAnswer {
  const own = frames.filter((f) => f.sessionId === sessionId);
  let text = '';
  const metadata = new Map<string, unknown>();
  let end: AiAnswer['end'];
  for (const frame of own) {
    if (frame.type === 'streaming-text') text += frame.data;
    else if (frame.type === 'metadata') metadata.set(frame.key, frame.value);
    else if (isTerminalFrame(frame)) end ??= frame;
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
      const data: AiEventData[K][] = [];
      for (const frame of own)
        if (frame.type === 'event' && frame.event === name) data.push(frame.data as AiEventData[K]);
      return data;
    },
  };
}
