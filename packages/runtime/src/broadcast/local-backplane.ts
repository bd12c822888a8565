import type { BroadcasterBackplane } from '../spi/backplane.ts';

/** The single-node backplane: nothing to relay. */
export class LocalBackplane implements BroadcasterBackplane {
  readonly name = 'local';
  start(): void {}
  publish(): void {}
  async close(): Promise<void> {}
}
