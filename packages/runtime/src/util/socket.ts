import type { Duplex } from 'node:stream';

/**
 * Bytes a socket has handed to the operating system so far (a `net.Socket`'s `bytesWritten` counts what it
 * still buffers too); 0 for a stream that does not count them.
 */
export function sentBytes(socket: Duplex | null | undefined): number {
  if (socket === null || socket === undefined) return 0;
  const written = (socket as Duplex & { bytesWritten?: number }).bytesWritten;
  return written === undefined ? 0 : written - socket.writableLength;
}
