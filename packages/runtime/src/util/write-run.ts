/**
 * The bytes of a run of messages (`Connection.startRun` … `endRun`: a backlog written back to back) gathered
 * to go out in one write. One run at a time per transport: a flush is synchronous.
 */
export class WriteRun<Owner> {
  /** The connection gathering, if any. */
  owner: Owner | undefined = undefined;
  readonly #parts: Buffer[] = [];
  #bytes = 0;

  /** Starts a run for `owner`, unless another connection's run is under way (its writes then go as usual). */
  start(owner: Owner): void {
    if (this.owner === undefined) this.owner = owner;
  }

  /**
   * Adds `bytes` to the run. Returns what was gathered before them when adding them would take a buffer holding
   * `buffered` bytes to its high-water mark: the caller writes that first, so a run never makes the connection
   * look congested while the socket takes the bytes.
   */
  gather(bytes: Buffer, buffered: number, highWaterMark: number): Buffer | undefined {
    const spill =
      this.#parts.length !== 0 && this.#bytes + bytes.length + buffered >= highWaterMark
        ? this.#take()
        : undefined;
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
    return spill;
  }

  /** Ends `owner`'s run: what is left to write, as one buffer (undefined when nothing is, or not its run). */
  finish(owner: Owner): Buffer | undefined {
    if (this.owner !== owner) return undefined;
    this.owner = undefined;
    return this.#take();
  }

  #take(): Buffer | undefined {
    const parts = this.#parts;
    if (parts.length === 0) return undefined;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#bytes);
    parts.length = 0;
    this.#bytes = 0;
    return bytes;
  }
}
