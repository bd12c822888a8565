import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { eventually } from '@atmosphere/runtime/testing';

/**
 * A real server process (a fixture script) that can be killed with SIGKILL and started again on the same port
 * and SQLite file. The script prints `LISTENING <port>` once it listens, and answers each stdin command line
 * with `DONE <line>` once done (after whatever it prints for it).
 */
export class ChildServer {
  port = 0;
  readonly script: string;
  readonly file: string;
  #child: ChildProcess | undefined;
  #output = '';
  #stderr = '';

  /** Arguments after the file and the port. */
  readonly args: readonly string[];

  constructor(script: string, file: string, args: readonly string[] = []) {
    this.script = script;
    this.file = file;
    this.args = args;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--conditions=@atmosphere/source', this.script, this.file, String(this.port), ...this.args],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.#child = child;
    this.#output = '';
    this.#stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    await eventually(
      () => /LISTENING (\d+)/.test(this.#output) || child.exitCode !== null,
      'the server to listen',
      15_000,
    );
    const match = /LISTENING (\d+)/.exec(this.#output);
    if (!match) throw new Error(`server exited before listening: ${this.#stderr}`);
    this.port = Number(match[1]);
  }

  /** Sends a command, waits for its `DONE`, and returns what the server printed for it. */
  async command(line: string): Promise<string> {
    const from = this.#output.length;
    this.#child!.stdin!.write(`${line}\n`);
    const done = `DONE ${line}\n`;
    await eventually(() => this.#output.indexOf(done, from) !== -1, done.trim(), 10_000);
    return this.#output.slice(from, this.#output.indexOf(done, from));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  get stderr(): string {
    return this.#stderr;
  }
}
