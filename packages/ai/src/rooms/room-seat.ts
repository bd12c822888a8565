import type { RoomMessage, RoomView, VirtualMemberContext } from '@atmosphere/rooms';
import type { ChatMessage, ChatPart } from '../spi/chat.ts';
import type { Steering } from '../pipeline/steering.ts';
import { ApprovalRegistry, type ApprovalRequestOptions } from '../tools/approvals.ts';
import type { FrameStreamingSession } from '../streaming/streaming-session.ts';
import type { RoomAnswerMode, RoomUnaddressedMessage } from './llm-room-member-options.ts';
import type { RoomFrameSink } from './room-frame-sink.ts';
import type { RoomTranscript } from './room-transcript.ts';

/** @internal A question an AI member took up, waiting for (or getting) its answer. */
export interface RoomQuestion {
  readonly message: RoomMessage;
  /** The asker (questions come from members only). */
  readonly from: string;
  /** The text without the mention. */
  readonly prompt: string;
  /** The question as the transcript keeps it (left out of the history sent with it). */
  readonly entry: ChatMessage;
  /** The images sent with it (validated), for this answer only: the transcript keeps the text. */
  readonly parts: readonly ChatPart[];
}

/** @internal What an AI member knows about the other AI members of a room (for `default` and mentions). */
export interface SeatOwner {
  readonly id: string;
  readonly answers: RoomAnswerMode;
  /** The names that address it: its id and aliases. */
  readonly names: readonly string[];
  /** Narrows what it answers unmentioned (`LlmRoomMemberOptions.answerWhen`). */
  readonly answerWhen: ((message: RoomUnaddressedMessage) => boolean) | undefined;
}

/** @internal One AI member in one room: its context, memory, queue and the answer in progress. */
export interface RoomSeat {
  readonly owner: SeatOwner;
  readonly context: VirtualMemberContext;
  readonly transcript: RoomTranscript;
  readonly sink: RoomFrameSink;
  readonly queue: RoomQuestion[];
  running: boolean;
  /** The quiet timer of `debounce`, while one runs, and the questions it holds. */
  timer: NodeJS.Timeout | undefined;
  readonly quiet: RoomQuestion[];
  /** The session of the answer being streamed. */
  current: FrameStreamingSession | undefined;
  /** The guidance (`steer`) waiting for that answer's next step boundary. */
  steering: Steering | undefined;
  /** The sessions of the last answers that ended here, newest last (bounded): where a late turn crossed an end. */
  readonly ended: string[];
  /**
   * The audience of the running answer and of the last ones (bounded like `ended`), by session id: the ids of
   * the members present when it started or ended, whose paint timing reports about it count.
   */
  readonly audiences: Map<string, Set<string>>;
  /** The tool approvals its answers asked the room for. */
  readonly approvals: SeatApprovals;
}

/** How many approval ids a seat remembers once settled, so that a late or second answer is told apart. */
const ISSUED_KEPT = 64;

/** @internal The approvals of one seat: a registry that remembers the ids it issued (bounded). */
export class SeatApprovals extends ApprovalRegistry {
  readonly #issued: string[] = [];

  override request(options: ApprovalRequestOptions): ReturnType<ApprovalRegistry['request']> {
    const opened = super.request(options);
    this.#issued.push(opened.approvalId);
    if (this.#issued.length > ISSUED_KEPT) this.#issued.shift();
    return opened;
  }

  /** Whether the approval was asked here (pending, or settled lately). */
  issued(approvalId: string): boolean {
    return this.#issued.includes(approvalId);
  }
}

/*
 * The AI members seated in each room, in the order they sat down. Every member reads the same list when the
 * room hands it a message (synchronously, in room order), so each decides on its own and all decide alike:
 * that is what keeps one question from getting two default answers.
 */
const seatsByRoom = new WeakMap<RoomView, RoomSeat[]>();

/** @internal Seats an AI member in its room's list. */
export function addSeat(seat: RoomSeat): void {
  const room = seat.context.room;
  const seats = seatsByRoom.get(room);
  if (seats === undefined) seatsByRoom.set(room, [seat]);
  else seats.push(seat);
}

/** @internal Removes an AI member from its room's list. */
export function removeSeat(seat: RoomSeat): void {
  const room = seat.context.room;
  const seats = seatsByRoom.get(room);
  if (seats === undefined) return;
  const at = seats.indexOf(seat);
  if (at !== -1) seats.splice(at, 1);
  if (seats.length === 0) seatsByRoom.delete(room);
}

/** @internal The AI members seated in a room, in the order they sat down. */
export function seatsOf(room: RoomView): readonly RoomSeat[] {
  return seatsByRoom.get(room) ?? [];
}

/** @internal The `default` member that answers unaddressed messages in the room: the first seated. */
export function defaultSeat(room: RoomView): RoomSeat | undefined {
  for (const seat of seatsOf(room)) if (seat.owner.answers === 'default' && seat.context.active) return seat;
  return undefined;
}
