import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type * as Ai from '@atmosphere/ai';
import type { StreamingSession } from '@atmosphere/ai';
import type { Room, RoomManager, RoomMessage, VirtualMemberContext } from '@atmosphere/rooms';
import type { RoomMetadata } from '@atmosphere/protocol';
import { AtmosphereError, type Atmosphere } from '@atmosphere/runtime';
import type { McpPrincipal } from './principal.ts';

/** The SDK's per-request extra (signal, session id, `sendNotification`, `_meta.progressToken`, …). */
export type McpRequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Options of {@link McpToolContext.joinRoom}. */
export interface JoinRoomOptions {
  /** Shown to every member. */
  readonly metadata?: RoomMetadata;
  /** Messages said in the room, as the virtual member receives them. */
  onMessage?(message: RoomMessage, context: VirtualMemberContext): void;
}

/**
 * What a tool (resource, prompt) is handed: the MCP request and the Atmosphere side. Browsers are reached
 * through the runtime's own paths — broadcasts, AI frames, rooms — so replay, filters, backpressure and
 * clustering apply as to anything else the server sends.
 */
export interface McpToolContext {
  readonly atmosphere: Atmosphere;
  /** The caller, as the auth hook established it (`anonymous` without one). */
  readonly principal: McpPrincipal;
  /** The MCP session (Streamable HTTP session id, or the WebSocket connection's id). */
  readonly sessionId: string;
  /** Aborted when the client cancels the request or the session ends. */
  readonly signal: AbortSignal;
  /** The SDK's request extra, for anything else (`sendRequest`, `_meta`, `requestInfo`). */
  readonly extra: McpRequestExtra;
  /** Broadcasts `message` on the broadcaster `topic` (every browser subscribed to that path receives it). */
  broadcast(topic: string, message: unknown): Promise<void>;
  /**
   * A `StreamingSession` (`@atmosphere/ai`) whose AI frames (PROTOCOL.md §7) go to every subscriber of the
   * broadcaster `topic`, or — given a virtual member's context from {@link joinRoom} — to every member of
   * its room, tagged with the room and the member. `progress()` calls of this tool are forwarded to it. When
   * `execute` returns, a session still open is completed (errored when it threw). Needs `@atmosphere/ai`.
   */
  stream(target: string | VirtualMemberContext, options?: { sessionId?: string }): Promise<StreamingSession>;
  /**
   * Reports progress: a `notifications/progress` to the MCP client when its request asked for it (a
   * `progressToken`), and a `progress` frame on every stream this call opened, so browsers see it too.
   */
  progress(progress: number, options?: { total?: number; message?: string }): Promise<void>;
  /** The room `name` of the instance's `RoomManager` (created when absent). Needs `@atmosphere/rooms`. */
  room(name: string): Promise<Room>;
  /**
   * Seats a virtual member in a room: every member sees a presence `join` (and a `leave` when it leaves). It
   * stays until `context.leave()`, or until this MCP session ends. Needs `@atmosphere/rooms`.
   */
  joinRoom(room: string, memberId: string, options?: JoinRoomOptions): Promise<VirtualMemberContext>;
}

/** What the contexts of one MCP session share. */
export interface SessionScope {
  readonly atmosphere: Atmosphere;
  readonly principal: McpPrincipal;
  readonly sessionId: string;
  readonly rooms: () => Promise<RoomManager>;
  /** Virtual members seated by this session's tools; they leave when it ends. */
  readonly members: Set<VirtualMemberContext>;
}

async function loadAi(): Promise<typeof Ai> {
  try {
    return await import('@atmosphere/ai');
  } catch (error) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      'context.stream() needs @atmosphere/ai: install it beside @atmosphere/mcp (pnpm add @atmosphere/ai).',
      { cause: error },
    );
  }
}

/** The context of one tool call, and what to do when it ends. */
export class ToolCallContext implements McpToolContext {
  readonly atmosphere: Atmosphere;
  readonly principal: McpPrincipal;
  readonly sessionId: string;
  readonly signal: AbortSignal;
  readonly extra: McpRequestExtra;
  readonly #scope: SessionScope;
  readonly #streams: StreamingSession[] = [];

  constructor(scope: SessionScope, extra: McpRequestExtra) {
    this.#scope = scope;
    this.atmosphere = scope.atmosphere;
    this.principal = scope.principal;
    this.sessionId = scope.sessionId;
    this.signal = extra.signal;
    this.extra = extra;
  }

  broadcast(topic: string, message: unknown): Promise<void> {
    return this.atmosphere.broadcast(topic, message);
  }

  async stream(
    target: string | VirtualMemberContext,
    options: { sessionId?: string } = {},
  ): Promise<StreamingSession> {
    const ai = await loadAi();
    const common = {
      signal: this.signal,
      logger: this.atmosphere.logger,
      ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
    };
    let session: StreamingSession;
    if (typeof target === 'string') {
      session = ai.createBroadcasterSession(this.atmosphere.broadcasters.get(target), common);
    } else {
      const member = target;
      const logger = this.atmosphere.logger;
      session = ai.createStreamingSession({
        ...common,
        announceRunId: false,
        sink: {
          write(frame: string): void {
            member.broadcastFrame(frame).catch((error: unknown) => {
              logger.warn('mcp: an AI frame did not reach the room', { error });
            });
          },
        },
      });
    }
    this.#streams.push(session);
    return session;
  }

  async progress(progress: number, options: { total?: number; message?: string } = {}): Promise<void> {
    const text =
      options.message ?? (options.total === undefined ? `${progress}` : `${progress}/${options.total}`);
    for (const stream of this.#streams) if (!stream.closed) stream.progress(text);
    const token = this.extra._meta?.progressToken;
    if (token === undefined) return;
    await this.extra.sendNotification({
      method: 'notifications/progress',
      params: {
        progressToken: token,
        progress,
        ...(options.total === undefined ? {} : { total: options.total }),
        ...(options.message === undefined ? {} : { message: options.message }),
      },
    });
  }

  async room(name: string): Promise<Room> {
    const manager = await this.#scope.rooms();
    return manager.room(name);
  }

  async joinRoom(
    roomName: string,
    memberId: string,
    options: JoinRoomOptions = {},
  ): Promise<VirtualMemberContext> {
    const room = await this.room(roomName);
    const members = this.#scope.members;
    const seat: { context?: VirtualMemberContext } = {};
    const context = room.joinVirtual({
      id: memberId,
      ...(options.metadata ? { metadata: options.metadata } : {}),
      onMessage: (message, memberContext) => options.onMessage?.(message, memberContext),
      onLeave: () => {
        if (seat.context) members.delete(seat.context);
      },
    });
    seat.context = context;
    members.add(context);
    return context;
  }

  /** The call ended: streams left open are completed (or errored with the call's error). */
  settle(error?: unknown): void {
    for (const stream of this.#streams) {
      if (stream.closed) continue;
      if (error === undefined) stream.complete();
      else stream.error(error);
    }
  }
}
