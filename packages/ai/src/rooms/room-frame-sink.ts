import type { Logger } from '@atmosphere/runtime';
import type { VirtualMemberContext } from '@atmosphere/rooms';
import type { FrameSink } from '../streaming/frame-sink.ts';

/**
 * Frames of an AI member's answers to every connection of its room, through `context.broadcastFrame()`: the
 * room's broadcaster carries them (filters, the missed-message cache and replay, backpressure, clustering),
 * in room order, tagged with the room and the member (`{"room":"lobby","from":"assistant","type":…}`).
 * Submission is synchronous, so frames keep the order the session wrote them in.
 */
export class RoomFrameSink implements FrameSink {
  readonly #context: VirtualMemberContext;
  readonly #failed: (error: unknown) => void;

  constructor(context: VirtualMemberContext, logger: Logger) {
    this.#context = context;
    this.#failed = (error) => {
      // After the member left, a late frame of a cancelled answer has nowhere to go; that is not a failure.
      if (this.#context.active)
        logger.error(`room ${context.room.name}: an AI frame of ${context.member.id} was not delivered`, {
          error,
        });
    };
  }

  write(frame: string): void {
    if (!this.#context.active) return;
    this.#context.broadcastFrame(frame).catch(this.#failed);
  }
}
