import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { isRpcMessage, type RpcEvent, type RpcRequest } from './rpc.ts';

/** How to start a benchmark child process. */
export interface ChildOptions {
  /** A name for logs and errors (`server:atmosphere`, `clients:ws#1`). */
  name: string;
  /** The TypeScript entry file. */
  entry: string;
  /** Arguments after the entry. */
  args?: readonly string[];
  /** Extra Node flags (`--cpu-prof`, …). */
  nodeFlags?: readonly string[];
  /** Give the process the hard limit of open files as its soft limit (servers and clients of the scale run). */
  raiseFileLimit?: boolean;
  /** Run it on these CPUs only (`taskset -c`, e.g. `'0'`), where `taskset` exists; see {@link canPin}. */
  cpus?: string;
  /** A command that runs node (`['valgrind', '--tool=callgrind']`): node and its arguments follow it. */
  wrapper?: readonly string[];
}

let pinning: boolean | undefined;

/** True when processes can be pinned to CPUs here (Linux with util-linux's `taskset`, at least 2 CPUs). */
export function canPin(): boolean {
  if (pinning === undefined) {
    pinning =
      process.platform === 'linux' &&
      availableParallelism() >= 2 &&
      spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;
  }
  return pinning;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave a server or client behind, whatever way the orchestrator ends.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * A server or client process of the benchmark, driven over IPC: `call()` a method with a timeout, listen to
 * its events, `stop()` it. Node runs it with `--conditions=@atmosphere/source --expose-gc`, so it loads the
 * workspace packages from their TypeScript sources and can report memory after a full collection.
 */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();
  readonly #listeners = new Map<string, Set<(data: unknown) => void>>();
  readonly exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.process = child;
    child.on('message', (message: unknown) => {
      if (!isRpcMessage(message)) return;
      if (message.kind === 'result') {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.ok) pending.resolve(message.value);
        else pending.reject(new Error(`${this.name}: ${message.error ?? 'failed'}`));
      } else if (message.kind === 'event') {
        for (const listener of this.#listeners.get(message.name) ?? []) listener(message.data);
      }
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        live.delete(child);
        this.#exitCode = code;
        for (const [id, pending] of this.#pending) {
          clearTimeout(pending.timer);
          pending.reject(new Error(`${this.name} exited (${signal ?? code}) during a call`));
          this.#pending.delete(id);
        }
        resolve(code);
      });
    });
  }

  static start(options: ChildOptions): Child {
    installExitHook();
    const node = [
      process.execPath,
      '--conditions=@atmosphere/source',
      '--expose-gc',
      '--disable-warning=ExperimentalWarning',
      ...(options.nodeFlags ?? []),
      options.entry,
      ...(options.args ?? []),
    ];
    if (options.wrapper !== undefined) node.unshift(...options.wrapper);
    if (options.cpus !== undefined && canPin()) node.unshift('taskset', '-c', options.cpus);
    // A shell in front of node only to raise the soft limit of open files; `exec` keeps the IPC channel.
    const child = options.raiseFileLimit
      ? spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...node], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          serialization: 'advanced',
        })
      : spawn(node[0]!, node.slice(1), {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          serialization: 'advanced',
        });
    live.add(child);
    return new Child(options.name, child);
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Calls a method of the child; rejects after `timeoutMs` or when the child exits. */
  call<R>(method: string, params: unknown = {}, timeoutMs = 30_000): Promise<R> {
    if (!this.running) return Promise.reject(new Error(`${this.name} is not running (calling ${method})`));
    const id = this.#nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: ${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const request: RpcRequest = { kind: 'call', id, method, params };
      this.process.send(request);
    });
  }

  /** Sends a one-way event. */
  send(name: string, data: unknown): void {
    if (!this.running || !this.process.connected) return;
    const event: RpcEvent = { kind: 'event', name, data };
    this.process.send(event);
  }

  on<D>(name: string, listener: (data: D) => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener as (data: unknown) => void);
    return () => set.delete(listener as (data: unknown) => void);
  }

  /**
   * Stops the child: asks it to exit (so a CPU profile gets written), then kills this process id after
   * `graceMs` if it is still there.
   */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.call('shutdown', {}, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stops several children in parallel. */
export async function stopAll(children: readonly (Child | undefined)[], graceMs?: number): Promise<void> {
  await Promise.all(children.map((child) => (child ? child.stop(graceMs) : Promise.resolve())));
}
