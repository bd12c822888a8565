import { Inbox } from '@atmosphere/runtime/testing';
import { CollectingSink } from '../streaming/frame-sink.ts';
import { type AiFrame, parseAiFrame } from '@atmosphere/protocol';
import { FrameStreamingSession, type StreamingSessionOptions } from '../streaming/streaming-session.ts';

/** A session whose frames are kept in memory, for driving a runtime directly. */
export interface CollectedSession {
  readonly session: FrameStreamingSession;
  /** Frames as serialised (what a client would receive). */
  readonly raw: readonly string[];
  /** Frames parsed, in order; wait on them with `frames.waitFor(…)`. */
  readonly frames: Inbox<AiFrame>;
}

/** A real {@link FrameStreamingSession} over an in-memory sink. */
export function collectingSession(options: Omit<StreamingSessionOptions, 'sink'> = {}): CollectedSession {
  const sink = new CollectingSink();
  const frames = new Inbox<AiFrame>(10_000);
  sink.onFrame((frame) => {
    const parsed = parseAiFrame(frame);
    if (parsed) frames.push(parsed);
  });
  const session = new FrameStreamingSession({ ...options, sink });
  return { session, raw: sink.frames, frames };
}
