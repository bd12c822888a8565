import type { AtmosphereResource } from '@atmosphere/runtime';
import type { RoomMember } from './types.ts';

/** What a client asks to do in a room. */
export type RoomAction = 'join' | 'leave' | 'broadcast' | 'direct' | 'typing' | 'stop' | 'steer' | 'approval';

/** One client request, as the {@link RoomAuthorizer} sees it. */
export interface RoomAuthorizationRequest {
  readonly action: RoomAction;
  /** The room name (already valid). For `join` the room may not exist yet. */
  readonly room: string;
  /**
   * For `join`, the member the client asks to be (`memberId` and `metadata` as sent; the tracking id when it
   * sent none). Otherwise the member this connection joined as.
   */
  readonly member: RoomMember;
  /** The client's connection; `resource.principal` is what the auth interceptor established. */
  readonly resource: AtmosphereResource;
  /** `direct`: the member addressed; `stop`, `steer` and `approval`: the AI member whose answer it is. */
  readonly targetId?: string;
  /**
   * `broadcast` and `direct`: the payload, for content policies; `steer`: the guidance text; `approval`:
   * `{ approvalId, approved, arguments? }`.
   */
  readonly data?: unknown;
  /** `typing`: the state announced. */
  readonly typing?: boolean;
  /** `join`: the history id the client asks to replay after. */
  readonly sinceId?: number;
  /**
   * `join`: true when the server restores a membership the connection's session holds (the client came back
   * with its session token, e.g. after a restart) rather than the client asking. Refusing it gets the client an
   * `error` frame for the room, `Membership not restored: Unauthorized`, and the session forgets the room.
   */
  readonly restored?: boolean;
}

/**
 * Decides whether a client may do what it asks. Return (or resolve) `true` to allow; anything else — `false`,
 * a throw, a rejection — refuses: the client gets `{"type":"error","room":…,"data":"Unauthorized"}` and
 * nothing changes (no room is created, no presence, no history, nothing delivered). Requests of one connection
 * are decided one at a time, in order. Memberships a returning session gets back are asked again (`restored`).
 * Server-side calls (`room.join()`, …) are not subject to it, nor are
 * leaves caused by a disconnect.
 */
export type RoomAuthorizer = (request: RoomAuthorizationRequest) => boolean | Promise<boolean>;
