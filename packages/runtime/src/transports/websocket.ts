import type { Duplex } from 'node:stream';
import { CloseCodes, isDeliberateClose, lengthPrefixed, PADDING_CHAR } from '@atmosphere/protocol';
import { WebSocket } from 'ws';
import type { Connection, ConnectionEnd, ConnectionOwner } from '../delivery/connection.ts';
import type { EncodedMessage } from '../delivery/encoded-message.ts';
import { sentBytes } from '../util/socket.ts';
import { WriteRun } from '../util/write-run.ts';

const FRAMED_HEARTBEAT = lengthPrefixed(PADDING_CHAR);

/** How long a client may take to answer our close frame before its socket is dropped. */
const CLOSE_TIMEOUT_MS = 5_000;
/** The largest WebSocket frame header (8-byte length and a mask), counted when holding a frame back. */
const MAX_FRAME_HEADER = 14;
/**
 * Frames held back at most before they go out together. Each frame is two buffers (header, payload) and
 * one `writev` takes at most IOV_MAX (1024) of them at once: past that, the rest waits for the next turn
 * of the event loop, the socket counts as busy, and messages would queue behind it. 64 frames per
 * `writev` already saves nearly all of the per-frame syscall cost, and keeps the first frame of a batch
 * from waiting long for the last.
 */
const MAX_HELD_FRAMES = 64;
/**
 * Bytes a socket may hold unsent when a ping comes: past this the client has not read for long (the message
 * bounds would have cut it by then, unless only its own pings filled the buffer), and it is dropped.
 */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

/**
 * Coalescing: a write that comes less than `BURST_GAP_MS` after the previous one on the same connection is
 * part of a burst (AI tokens, several broadcasts in a row): it corks the socket, and the end of the turn of
 * the event loop uncorks every socket corked in it, so a burst leaves in a few `writev` calls instead of one
 * per frame. A write after a pause — a token after the model thought, one broadcast to each client — goes
 * out at once and schedules nothing: on the cold path of a lone write, scheduling the end of a turn costs
 * more than the rest of the write together. The end of a turn is a `process.nextTick`, which runs once the
 * microtask queue is empty: the tokens an async iterator hands over from one network read (each after an
 * `await`) are one turn; a microtask would end the turn between two of them (test/coalescing.test.ts).
 */
const BURST_GAP_MS = 1;
const TICKS_PER_MS = 8;
const BURST_GAP_TICKS = BURST_GAP_MS * TICKS_PER_MS;
const TICK_MASK = 0x3fffffff;
let turnEnding = false;
const corked: WebSocketConnection[] = [];

/**
 * A run (`startRun` … `endRun`): the frames of a backlog written back to back — a replay on reconnect, a queue
 * catching up after a drain — gathered and written to the socket as one buffer, up to its high-water mark at a
 * time, instead of one stream write each.
 */
const run = new WriteRun<WebSocketConnection>();

function endTurn(): void {
  turnEnding = false;
  for (let i = 0; i < corked.length; i++) corked[i]!.uncorkTurn();
  corked.length = 0;
}

/**
 * The `ws` WebSocket the server creates (`new WebSocketServer({ WebSocket: AtmosphereWebSocket })`). Its
 * events go straight to its connection instead of through listeners: four listener closures per socket,
 * and the events table they need, are most of what an idle connection would otherwise add. Listeners an
 * application adds still run.
 */
export class AtmosphereWebSocket extends WebSocket {
  /** @internal The connection this socket serves. */
  connection: WebSocketConnection | undefined = undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const connection = this.connection;
    if (event === 'ping') {
      // Answered here rather than by ws (`autoPong: false`): its own answer needs a closure per socket.
      if (connection !== undefined) connection.pinged(args[0] as Buffer);
      else if (this.readyState === WebSocket.OPEN) this.pong(args[0], false);
    }
    if (connection !== undefined) {
      switch (event) {
        case 'message':
          connection.received(args[0] as Buffer, args[1] as boolean);
          break;
        case 'pong':
          connection.ponged(args[0] as Buffer);
          break;
        case 'error':
          connection.failed(args[0]);
          // Handled: an 'error' without listeners must not throw.
          if (this.listenerCount('error') === 0) return true;
          break;
        case 'close':
          connection.closed(args[0] as number);
          break;
      }
    } else if (event === 'error' && this.listenerCount('error') === 0) {
      return true;
    }
    return super.emit(event, ...args);
  }
}

/** A WebSocket connection (the `ws` library, server side). */
/** Bits of `WebSocketConnection.#flags`: one small integer per connection instead of a field per flag. */
const FRAMED = 1;
const ENDED_BY_SERVER = 2;
/** The client sent a frame ws refused (a protocol violation). */
const VIOLATED = 4;
const PROBING = 8;
const AWAITING_DRAIN = 16;
const CORKED = 32;
/** In the list of sockets corked in this turn. */
const LISTED = 64;
/** A message was sent (`#lastSendAt` holds a time). */
const SENT = 128;

/** A WebSocket connection (the `ws` library, server side). */
export class WebSocketConnection implements Connection {
  owner: ConnectionOwner | undefined;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  /** The close code the client sent, once closed (1005: a close frame without one). */
  closeCode: number | undefined = undefined;
  #flags: number;
  /**
   * When this connection last sent a message, for telling a burst from a pause: `performance.now()` in
   * eighths of a millisecond, modulo 2^30 — a small integer, held in the field itself (a fractional time
   * would be a heap number per connection). Once every 37 hours the wrap may take a pause for a burst:
   * that write is held until the end of the turn, which costs nothing but the scheduling.
   */
  #lastSendAt = 0;
  #closeTimer: NodeJS.Timeout | undefined;
  /** Frames written since the socket was corked. */
  #held = 0;

  constructor(ws: AtmosphereWebSocket, socket: Duplex, framed: boolean) {
    this.#ws = ws;
    this.#socket = socket;
    this.#flags = framed ? FRAMED : 0;
    ws.connection = this;
    // Events go to the connection (see `AtmosphereWebSocket.emit`): the emitter's table of listeners, an
    // empty dictionary of its own per socket, is made again only if an application adds a listener
    // (EventEmitter creates it on demand when it is undefined).
    if (ws.eventNames().length === 0) (ws as unknown as { _events: object | undefined })._events = undefined;
  }

  get transport(): 'websocket' {
    return 'websocket';
  }

  /** Length-prefixed framing on text writes. */
  get framed(): boolean {
    return (this.#flags & FRAMED) !== 0;
  }

  bind(owner: ConnectionOwner | undefined): void {
    this.owner = owner;
  }

  get ws(): WebSocket {
    return this.#ws;
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  get buffered(): number {
    return this.#socket.writableLength;
  }

  get sent(): number {
    return sentBytes(this.#socket);
  }

  get writable(): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    if (!this.#socket.writableNeedDrain) return true;
    this.#awaitDrain();
    return false;
  }

  /** A 'drain' listener only while congested: most sockets never are, and then hold none. */
  #awaitDrain(): void {
    if ((this.#flags & AWAITING_DRAIN) !== 0) return;
    this.#flags |= AWAITING_DRAIN;
    this.#socket.once('drain', () => {
      this.#flags &= ~AWAITING_DRAIN;
      this.owner?.connectionDrained(this);
    });
  }

  write(message: EncodedMessage): void {
    // The frame is built once per message and shared by every WebSocket subscriber with this encoding; it goes
    // to the socket as it is (no compression on these connections, so nothing in ws's sender is bypassed).
    const frame = message.webSocketFrame(
      message.binary ? 'binary' : (this.#flags & FRAMED) !== 0 ? 'framed' : 'plain',
    );
    if (run.owner === this) {
      const socket = this.#socket;
      const spill = run.gather(frame, socket.writableLength, socket.writableHighWaterMark);
      if (spill !== undefined) socket.write(spill);
      return;
    }
    // The time of the message's first write: one clock read per broadcast, whatever its fan-out.
    const now = (message.writtenAt * TICKS_PER_MS) & TICK_MASK;
    if ((this.#flags & SENT) !== 0 && ((now - this.#lastSendAt) & TICK_MASK) < BURST_GAP_TICKS)
      this.#coalesce(frame.length);
    else this.#flags |= SENT;
    this.#lastSendAt = now;
    this.#socket.write(frame);
  }

  /**
   * Holds this write of a burst back with the others of the turn (corks the socket), unless that would take the
   * socket's buffer to its high-water mark or hold more frames than one `writev` takes: then what is held
   * goes now, so holding never makes the socket look congested (`writable` stays true as long as the
   * kernel takes the bytes).
   */
  #coalesce(size: number): void {
    const socket = this.#socket;
    if ((this.#flags & CORKED) !== 0) {
      if (
        ++this.#held < MAX_HELD_FRAMES &&
        socket.writableLength + size + MAX_FRAME_HEADER < socket.writableHighWaterMark
      )
        return;
      this.#flags &= ~CORKED;
      socket.uncork();
    }
    if (socket.writableLength + size + MAX_FRAME_HEADER >= socket.writableHighWaterMark) return;
    socket.cork();
    this.#flags |= CORKED;
    this.#held = 0;
    if ((this.#flags & LISTED) === 0) {
      this.#flags |= LISTED;
      corked.push(this);
      if (!turnEnding) {
        turnEnding = true;
        process.nextTick(endTurn);
      }
    }
  }

  startRun(): void {
    run.start(this);
  }

  endRun(): void {
    const rest = run.finish(this);
    if (rest === undefined) return;
    this.#socket.write(rest);
    // A write soon after the run is part of the same burst.
    this.#flags |= SENT;
    this.#lastSendAt = (performance.now() * TICKS_PER_MS) & TICK_MASK;
  }

  /** @internal The turn ended: what was held back goes out. */
  uncorkTurn(): void {
    const flags = this.#flags;
    this.#flags = flags & ~(LISTED | CORKED);
    if ((flags & CORKED) !== 0) this.#socket.uncork();
  }

  /** Writes a text frame outside the message queue (the handshake, error notices). */
  writeRaw(text: string): void {
    if (this.open) this.#ws.send(this.framed ? lengthPrefixed(text) : text);
  }

  heartbeat(): void {
    if (this.open) this.#ws.send(this.framed ? FRAMED_HEARTBEAT : PADDING_CHAR);
  }

  /** Asks the client to confirm receipt of everything up to `seq` (a ping whose pong carries it back). */
  probe(seq: number): void {
    if ((this.#flags & PROBING) !== 0 || !this.open) return;
    this.#flags |= PROBING;
    this.#ws.ping(String(seq));
  }

  end(code: number = CloseCodes.normal, reason = ''): void {
    if (this.#ws.readyState === WebSocket.CLOSED || this.#ws.readyState === WebSocket.CLOSING) return;
    this.#flags |= ENDED_BY_SERVER;
    // Reasons are limited to 123 bytes by the protocol.
    const text = Buffer.byteLength(reason) > 123 ? reason.slice(0, 60) : reason;
    this.#ws.close(code, text);
    if (code === CloseCodes.policyViolation || code === CloseCodes.messageTooLarge) {
      // A client closed for what it sent (over the rate limit, too large) is not waited for: the socket goes
      // once the close frame is flushed, as after a protocol violation.
      this.#destroySoon();
      return;
    }
    // A client that never answers the close frame must not hold the socket forever.
    this.#closeTimer = setTimeout(() => this.#ws.terminate(), CLOSE_TIMEOUT_MS);
    this.#closeTimer.unref();
  }

  /** Destroys the socket once what was written to it (the close frame) is flushed. */
  #destroySoon(): void {
    const socket = this.#socket as Duplex & { destroySoon?: () => void };
    if (typeof socket.destroySoon === 'function') socket.destroySoon();
    else socket.destroy();
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.#flags |= ENDED_BY_SERVER;
    this.#ws.terminate();
  }

  /** @internal A frame arrived. */
  received(data: Buffer, isBinary: boolean): void {
    this.owner?.connectionMessage(this, isBinary ? new Uint8Array(data) : data.toString('utf8'));
  }

  /**
   * @internal A ping arrived: answered with its pong. A client that pings without reading what it is sent
   * fills its socket's buffer with pongs: past `MAX_UNSENT_BYTES` it is dropped.
   */
  pinged(data: Buffer): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    if (this.#socket.writableLength > MAX_UNSENT_BYTES) {
      this.terminate();
      return;
    }
    this.#ws.pong(data, false);
  }

  /** @internal A pong arrived: it confirms the seq its ping carried. */
  ponged(data: Buffer): void {
    this.#flags &= ~PROBING;
    const seq = Number(data.toString('latin1'));
    if (Number.isSafeInteger(seq)) this.owner?.connectionConfirmed(this, seq);
  }

  /**
   * @internal ws closes the socket itself after an error: the server's doing. The errors of its frame parser
   * (`WS_ERR_*`: bad UTF-8 1007, an oversize frame 1009, an invalid opcode, an unmasked frame, a bad close
   * code 1002) are the client's violations of the protocol.
   */
  failed(error?: unknown): void {
    this.#flags |= ENDED_BY_SERVER;
    const code = (error as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
      this.#flags |= VIOLATED;
      // ws has written its close frame and half-closed the socket; it would then wait up to 30 s (its close
      // timeout) for the client to close its side, holding the socket, its parser and buffers. A client that
      // broke the protocol gets no such wait: the socket is destroyed once the close frame is flushed.
      this.#destroySoon();
    }
  }

  /** @internal The WebSocket closed. */
  closed(code: number): void {
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.closeCode = code;
    const how: ConnectionEnd =
      (this.#flags & VIOLATED) !== 0
        ? 'violated'
        : (this.#flags & ENDED_BY_SERVER) !== 0
          ? 'server-closed'
          : isDeliberateClose(code)
            ? 'client-closed'
            : 'lost';
    const owner = this.owner;
    this.owner = undefined;
    owner?.connectionEnded(this, how);
  }
}
