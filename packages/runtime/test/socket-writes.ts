import type { Socket } from 'node:net';

/** Counts the writes that reach a socket's handle (each one a syscall), from now on. */
export function countWrites(socket: Socket): { readonly count: number } {
  const counter = { count: 0 };
  const writable = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const method of ['_write', '_writev'] as const) {
    const original = writable[method].bind(socket);
    writable[method] = (...args: unknown[]) => {
      counter.count++;
      original(...args);
    };
  }
  return counter;
}
