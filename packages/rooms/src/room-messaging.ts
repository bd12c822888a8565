import { isMemberId, typingFrame } from '@atmosphere/protocol';
import { AtmosphereError, type AtmosphereResource } from '@atmosphere/runtime';
import { asError } from './errors.ts';
import { roomMessageFrame } from './frames.ts';
import { RoomHistory } from './history.ts';
import { directMessage, type MemberState, type RoomDelivery, type Settle } from './room-delivery.ts';
import type { RoomMember, RoomMessage, RoomSender } from './types.ts';

/** @internal What a room's messaging needs from the room. */
export interface MessagingOwner {
  readonly name: string;
  readonly delivery: RoomDelivery;
  /** Current members by id. */
  readonly members: ReadonlyMap<string, MemberState>;
  /** The member a connection joined as, if it is in the room. */
  connectionMember(resource: AtmosphereResource): RoomMember | undefined;
  /** Throws `CLOSED` once the room was destroyed. */
  assertOpen(): void;
}

/**
 * @internal What a room says: broadcasts, direct messages, typing, raw frames, and the history they feed. Every
 * operation goes through the room's delivery, so it is ordered with all the rest of the room's traffic.
 */
export class RoomMessaging {
  readonly #owner: MessagingOwner;

  constructor(owner: MessagingOwner) {
    this.#owner = owner;
  }

  broadcast(data: unknown, sender?: RoomSender): Promise<RoomMessage> {
    const owner = this.#owner;
    try {
      owner.assertOpen();
      let from: string | undefined;
      let exclude: string | undefined;
      if (typeof sender === 'string') {
        if (!isMemberId(sender))
          throw new AtmosphereError('BAD_REQUEST', `Invalid sender id ${JSON.stringify(sender)}.`);
        from = sender;
      } else if (sender !== undefined) {
        const member = owner.connectionMember(sender);
        if (member === undefined)
          throw new AtmosphereError('BAD_REQUEST', `Resource ${sender.id} is not in room ${owner.name}.`);
        from = member.id;
        exclude = sender.id;
      }
      const prepared = owner.delivery.prepare(from, data);
      return new Promise<RoomMessage>((resolve, reject) => {
        owner.delivery.submitMessage(prepared, exclude, { resolve: () => resolve(prepared.message), reject });
      });
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  say(
    from: string | undefined,
    exclude: string | undefined,
    data: unknown,
    failed?: (error: unknown) => void,
  ): void {
    const prepared = this.#owner.delivery.prepare(from, data);
    this.#owner.delivery.submitMessage(
      prepared,
      exclude,
      failed === undefined ? undefined : { resolve: noop, reject: failed },
    );
  }

  sendTo(memberId: string, data: unknown, from?: string): Promise<boolean> {
    try {
      this.#owner.assertOpen();
      if (from !== undefined && !isMemberId(from))
        throw new AtmosphereError('BAD_REQUEST', `Invalid sender id ${JSON.stringify(from)}.`);
      if (!this.#owner.members.has(memberId)) return Promise.resolve(false);
      return new Promise<boolean>((resolve, reject) => {
        this.direct(from, memberId, data, { resolve: () => resolve(true), reject });
      });
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  direct(from: string | undefined, targetId: string, data: unknown, done?: Settle): void {
    const owner = this.#owner;
    const target = owner.members.get(targetId);
    if (target === undefined) {
      done?.resolve();
      return;
    }
    const payload = roomMessageFrame(owner.name, undefined, from, data);
    const message = directMessage(owner.name, from, targetId, data);
    owner.delivery.submit({
      kind: 'send',
      payload,
      exclude: undefined,
      target,
      prepared: undefined,
      message,
      skip: undefined,
      done,
    });
  }

  typingFrom(memberId: string, typing: boolean, exclude: string | undefined, done?: Settle): void {
    this.#send(typingFrame(this.#owner.name, memberId, typing), exclude, done);
  }

  sendTyping(memberId: string, typing: boolean): Promise<void> {
    return this.#settled((done) => this.typingFrom(memberId, typing, undefined, done));
  }

  sendFrame(payload: string): Promise<void> {
    return this.#settled((done) => this.#send(payload, undefined, done));
  }

  enableHistory(capacity: number): void {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new AtmosphereError(
        'INVALID_OPTION',
        `enableHistory() needs a capacity that is an integer >= 0; got ${capacity}.`,
      );
    }
    const delivery = this.#owner.delivery;
    const history = delivery.history;
    delivery.history =
      capacity === 0
        ? undefined
        : history === undefined
          ? new RoomHistory(capacity)
          : history.resized(capacity);
  }

  history(sinceId?: number): RoomMessage[] {
    return this.#owner.delivery.history?.after(sinceId).map((entry) => entry.message) ?? [];
  }

  #send(payload: string, exclude: string | undefined, done: Settle | undefined): void {
    this.#owner.delivery.submit({
      kind: 'send',
      payload,
      exclude,
      target: undefined,
      prepared: undefined,
      message: undefined,
      skip: undefined,
      done,
    });
  }

  #settled(run: (done: Settle) => void): Promise<void> {
    try {
      this.#owner.assertOpen();
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return new Promise<void>((resolve, reject) => run({ resolve, reject }));
  }
}

function noop(): void {}
