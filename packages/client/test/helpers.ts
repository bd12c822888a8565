import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { Inbox } from '@atmosphere/runtime/testing';
import type { Subscription } from '../src/index.ts';

export const TRANSPORTS = ['websocket', 'sse', 'streaming', 'long-polling'] as const;

/** An append-only list of strings that a test can wait on (never a sleep): `await log.waitFor('open')`. */
export class EventLog {
  readonly items: string[] = [];
  #waiters: { from: number; match: (item: string) => boolean; resolve: (index: number) => void }[] = [];
  readonly #timeoutMs: number;

  constructor(timeoutMs = 8_000) {
    this.#timeoutMs = timeoutMs;
  }

  push(item: string): void {
    this.items.push(item);
    const index = this.items.length - 1;
    for (const waiter of [...this.#waiters]) {
      if (index >= waiter.from && waiter.match(item)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(index);
      }
    }
  }

  /** Resolves with the index of the first item at or after `from` that equals `name` or starts with `name:`. */
  waitFor(name: string, from = 0, timeoutMs = this.#timeoutMs): Promise<number> {
    const match = (item: string): boolean => item === name || item.startsWith(`${name}:`);
    for (let i = from; i < this.items.length; i++) if (match(this.items[i]!)) return Promise.resolve(i);
    return new Promise((resolve, reject) => {
      const waiter = {
        from,
        match,
        resolve: (index: number) => {
          clearTimeout(timer);
          resolve(index);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `Timed out after ${timeoutMs} ms waiting for '${name}'; events: ${this.items.join(', ')}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** How many items equal `name` or start with `name:`. */
  count(name: string): number {
    return this.items.filter((item) => item === name || item.startsWith(`${name}:`)).length;
  }
}

/** A subscription's events, recorded: `events` holds `name` or `name:detail` strings; `messages` the texts. */
export interface Recorder {
  readonly messages: Inbox<string>;
  readonly events: EventLog;
  readonly errors: string[];
}

export function record(subscription: Subscription): Recorder {
  const messages = new Inbox<string>(8_000);
  const events = new EventLog();
  const errors: string[] = [];
  subscription.on('message', (message) => messages.push(message.text));
  subscription.on('open', (event) => events.push(`open:${event.transport}`));
  subscription.on('reopen', (event) => events.push(`reopen:${event.transport}`));
  subscription.on('close', (event) => events.push(`close:${event.reason}`));
  subscription.on('reconnect', (event) => events.push(`reconnect:${event.attempt}`));
  subscription.on('transportFailure', (event) =>
    events.push(`transportFailure:${event.transport}->${event.next}`),
  );
  subscription.on('failureToReconnect', (event) => events.push(`failureToReconnect:${event.attempts}`));
  subscription.on('clientTimeout', () => events.push('clientTimeout'));
  subscription.on('error', (error) => {
    errors.push(`${error.code}: ${error.message}`);
    events.push(`error:${error.code}`);
  });
  return { messages, events, errors };
}

/**
 * Closes a test server at once: sockets a client has just aborted may not have been noticed yet, and a
 * graceful close would wait for them until its timeout.
 */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  const closing = server.close();
  (server.server as HttpServer).closeAllConnections();
  await closing;
}

/** Every TCP socket a server accepted, to cut them all at once — a network failure seen from the server. */
export function trackSockets(server: Server): { cut(): number } {
  const sockets = new Set<Socket>();
  server.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    cut() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return count;
    },
  };
}

/** `[from, from+1, …, to]` as strings. */
export function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

/** Waits for the subscription to connect (8 s at most); a failure says what state it was in and why. */
export async function ready(subscription: Subscription): Promise<void> {
  try {
    await subscription.ready({ signal: AbortSignal.timeout(8_000) });
  } catch (error) {
    const status = subscription.status();
    throw new Error(`Not connected: ${JSON.stringify({ ...status, lastError: status.lastError?.message })}`, {
      cause: error,
    });
  }
}
