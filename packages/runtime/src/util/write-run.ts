/**
 * The bytes of a run of messages (`Connection.startRun` … `endRun`: a backlog written back to back) gathered
 * to go out in one write. One run at a time per transport: a flush is synchronous.
 */
export class WriteRun<Owner> {
  /** The connection gathering, if any. */
  owner: Owner | undefined = undefined;
  readonly #parts: Buffer[] = [];
  #bytes = 0;

  /**
   * True when `size` more bytes would take a buffer holding `buffered` bytes to its high-water mark: what is
   * gathered goes first, so a run never makes the connection look congested while the socket takes the bytes.
   */
  full(size: number, buffered: number, highWaterMark: number): boolean {
    return this.#parts.length !== 0 && this.#bytes + size + buffered >= highWaterMark;
  }

  add(bytes: Buffer): void {
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
  }

  /** What is gathered, as one buffer (undefined when nothing is); the run is empty after. */
  take(): Buffer | undefined {
    const parts = this.#parts;
    if (parts.length === 0) return undefined;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#bytes);
    parts.length = 0;
    this.#bytes = 0;
    return bytes;
  }
}
