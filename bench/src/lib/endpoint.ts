import { isRpcMessage, type RpcEvent, type RpcResponse } from './rpc.ts';

type Method = (params: never) => unknown;

/**
 * The child side of the orchestrator link: serves calls with the given methods, emits events, and exits
 * when the parent goes away (a benchmark child never outlives its run).
 */
export class Endpoint {
  readonly #methods = new Map<string, Method>();
  readonly #listeners = new Map<string, (data: never) => void>();

  constructor() {
    if (!process.send)
      throw new Error('This file is a benchmark child process; start it through bench/src/run.ts.');
    process.on('message', (message: unknown) => {
      if (!isRpcMessage(message)) return;
      if (message.kind === 'call') void this.#serve(message.id, message.method, message.params);
      else if (message.kind === 'event') this.#listeners.get(message.name)?.(message.data as never);
    });
    process.on('disconnect', () => process.exit(0));
  }

  /** Serves `name`: its return value (awaited) goes back to the caller; a throw becomes the call's error. */
  method<P, R>(name: string, handler: (params: P) => R | Promise<R>): this {
    this.#methods.set(name, handler);
    return this;
  }

  /** Handles one-way events from the parent. */
  on<D>(name: string, listener: (data: D) => void): this {
    this.#listeners.set(name, listener);
    return this;
  }

  emit(name: string, data: unknown): void {
    const event: RpcEvent = { kind: 'event', name, data };
    process.send?.(event);
  }

  async #serve(id: number, name: string, params: unknown): Promise<void> {
    const handler = this.#methods.get(name);
    let response: RpcResponse;
    try {
      if (!handler) throw new Error(`unknown method ${name}`);
      response = { kind: 'result', id, ok: true, value: await handler(params as never) };
    } catch (error) {
      response = {
        kind: 'result',
        id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      };
    }
    process.send?.(response);
  }
}

/** CPU time of this process so far, in microseconds, with the wall clock (ms) it was read at. */
export interface CpuSample {
  user: number;
  system: number;
  wallMs: number;
}

export function cpuSample(): CpuSample {
  const usage = process.cpuUsage();
  return { user: usage.user, system: usage.system, wallMs: performance.now() };
}

/** Memory of this process in bytes, after full collections when `--expose-gc` is on. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  gc: boolean;
}

export async function memorySample(collect: boolean): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collect && gc) {
    // Several rounds with turns in between, so weak callbacks and finalisers run and memory settles.
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    gc: collect && gc !== undefined,
  };
}
