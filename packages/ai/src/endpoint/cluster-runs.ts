import type { Logger } from '@atmosphere/runtime';
import type { ClusterState } from '@atmosphere/runtime/spi';

/** How often a node following a run produced on another node reads the log for its new frames. */
export const FOLLOW_POLL_MS = 100;
/** How long a node's claim to end or continue an orphaned run holds off the others. */
const CLAIM_MS = 60_000;
const PRODUCER = 'producer';

/**
 * @internal AI runs across the nodes of a cluster that share a durable log and a cluster state (Redis): the
 * node producing a run holds `ai-run:<runId>` in the cluster state while it does (the entry goes with its
 * lease when the node dies). A node that a client re-attaches to and that does not run the answer follows it
 * from the shared log while another node holds it, and applies the interrupted-run policy only once nobody
 * does — one node, by a claim, continues or ends it.
 */
export class ClusterRuns {
  readonly #state: ClusterState;
  readonly #logger: Logger;

  /** Only with a shared cluster state and a durable log; undefined otherwise (one node: nothing to do). */
  static of(state: ClusterState | undefined, durable: boolean, logger: Logger): ClusterRuns | undefined {
    return state?.shared === true && durable ? new ClusterRuns(state, logger) : undefined;
  }

  constructor(state: ClusterState, logger: Logger) {
    this.#state = state;
    this.#logger = logger;
  }

  /** This node produces the run: held before the first frame, so no other node takes it for orphaned. */
  async produce(runId: string): Promise<void> {
    try {
      await this.#state.hold(scopeOf(runId), PRODUCER, null);
    } catch (error) {
      this.#logger.warn(
        `run ${runId}: the cluster state could not record this node as its producer; another node a client re-attaches to may take it for orphaned`,
        { error },
      );
    }
  }

  /** The run ended here: released once its frames are in the log (`appended`), never before. */
  release(runId: string, appended: Promise<void>): void {
    void appended
      .then(() => this.#state.release(scopeOf(runId), PRODUCER))
      .catch((error: unknown) =>
        this.#logger.warn(
          `run ${runId}: the cluster state could not release it; it goes with this node's lease`,
          { error },
        ),
      );
  }

  /** Another node produces the run now (it holds the run and its lease runs). */
  async elsewhere(runId: string): Promise<boolean> {
    const scope = scopeOf(runId);
    const snapshot = await this.#state.snapshot(scope);
    // Read, not followed: nothing of it is kept for a catch-up.
    this.#state.forget?.(scope);
    return snapshot.entries.some((entry) => entry.node !== this.#state.nodeId);
  }

  get nodeId(): string {
    return this.#state.nodeId;
  }

  /** Sends a command (or a refusal) about a run to every node: the one producing it acts on it. */
  async send(runId: string, command: RunCommand): Promise<void> {
    await this.#state.signal(scopeOf(runId), command);
  }

  /** Calls `handler` with every run command of the cluster (this node's own too); returns the unsubscriber. */
  listen(handler: (runId: string, command: RunCommand) => void): () => void {
    return this.#state.onChange((change) => {
      if (change.action !== 'signal' || !change.scope.startsWith(SCOPE_PREFIX)) return;
      if (!isRunCommand(change.data)) {
        this.#logger.warn(`run ${change.scope}: a malformed command from node ${change.by} was ignored`);
        return;
      }
      handler(change.scope.slice(SCOPE_PREFIX.length), change.data);
    });
  }

  /** True for one node of the cluster per run and attempt: the one that continues or ends an orphaned run. */
  claim(runId: string, attempt: number): Promise<boolean> {
    return this.#state.claim(`ai-run-end:${runId}:${attempt}`, CLAIM_MS);
  }
}

/** A follower's command for a run produced on another node, or that node's refusal back to it. */
export type RunControl =
  | { readonly op: 'stop' }
  | { readonly op: 'steer'; readonly steerId: string; readonly text: string }
  | { readonly op: 'approve'; readonly message: string }
  | {
      readonly op: 'refused';
      readonly node: string;
      readonly resourceId: string;
      readonly code: 'UNKNOWN_RUN' | 'UNKNOWN_APPROVAL';
      readonly message: string;
    };

/** What the node that sent a command adds to it, so that a refusal finds its way back. */
export interface RunCommand {
  readonly control: RunControl;
  /** The node and the connection that sent it. */
  readonly node: string;
  readonly resourceId: string;
}

const SCOPE_PREFIX = 'ai-run:';

function scopeOf(runId: string): string {
  return `${SCOPE_PREFIX}${runId}`;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;
const isText = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length <= max;

/** A command as the nodes send it: every field of its kind, of the right type and size (other nodes' data). */
function isRunCommand(value: unknown): value is RunCommand {
  const command = value as Partial<RunCommand> | null;
  if (typeof command !== 'object' || command === null) return false;
  if (!isText(command.node, 256) || !isText(command.resourceId, 256)) return false;
  const control = command.control as Record<string, unknown> | undefined;
  switch (control?.['op']) {
    case 'stop':
      return true;
    case 'steer':
      return (
        isText(control['steerId'], 64) && ID.test(control['steerId']) && isText(control['text'], 1_000_000)
      );
    case 'approve':
      return isText(control['message'], 1_000_000);
    case 'refused':
      return (
        isText(control['node'], 256) &&
        isText(control['resourceId'], 256) &&
        (control['code'] === 'UNKNOWN_RUN' || control['code'] === 'UNKNOWN_APPROVAL') &&
        isText(control['message'], 1_000)
      );
    default:
      return false;
  }
}
