import { randomUUID } from 'node:crypto';
import { APPROVAL_PREFIX } from '@atmosphere/protocol';

/** The user's decision on an `approval-required` event. */
export type ApprovalDecision =
  | { readonly approved: true; readonly arguments?: Record<string, unknown> }
  | { readonly approved: false; readonly reason: 'denied' | 'malformed' | 'timeout' | 'cancelled' };

/** What became of an approval answer. */
export type ApprovalAnswer = 'approved' | 'denied' | 'unknown' | 'forbidden' | 'not-an-approval';

/**
 * Who may answer an approval: `true`; `false` for a client outside the run (its answer is `unknown`, so ids
 * cannot be probed); `forbidden` for a client of the run whose role may not approve (a viewer).
 */
export type MayAnswer = (resourceId: string) => boolean | 'forbidden';

export interface ApprovalRequestOptions {
  /** Who may answer: the tracking ids of the run's audience, by role. */
  readonly mayAnswer: MayAnswer;
  /** Default: the registry's timeout. */
  readonly timeoutMs?: number;
  /** Aborting resolves the decision as `cancelled`. */
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly mayAnswer: MayAnswer;
  readonly resolve: (decision: ApprovalDecision) => void;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Is this message an approval answer (`/__approval/…`)? */
export function isApprovalMessage(message: string): boolean {
  return message.startsWith(APPROVAL_PREFIX);
}

/** The approval id an answer (`/__approval/<id>/<decision>`) names; undefined when it names none validly. */
export function approvalIdOf(message: string): string | undefined {
  if (!isApprovalMessage(message)) return undefined;
  const rest = message.slice(APPROVAL_PREFIX.length);
  const slash = rest.indexOf('/');
  const id = slash === -1 ? rest.trim() : rest.slice(0, slash);
  return ID.test(id) ? id : undefined;
}

/**
 * Tool approvals waiting for the user's answer. The answer is a plain message on the same connection:
 * `/__approval/<id>/approve`, `/__approval/<id>/deny`, or `/__approval/<id>/approve {"arguments":{…}}` to run
 * the tool with edited arguments. Anything else about a known id (another verb, a body that is not an object
 * with an `arguments` object) is a deny. Undecided approvals are denied after the timeout (default 300 s).
 */
export class ApprovalRegistry {
  readonly timeoutMs: number;
  readonly #pending = new Map<string, Pending>();

  constructor(options: { timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? 300_000;
  }

  /** Approvals waiting for an answer. */
  get size(): number {
    return this.#pending.size;
  }

  /** Whether the approval `approvalId` waits for its answer. */
  pending(approvalId: string): boolean {
    return this.#pending.has(approvalId);
  }

  /** Opens an approval; the decision resolves (never rejects) on the answer, the timeout or the signal. */
  request(options: ApprovalRequestOptions): {
    approvalId: string;
    expiresInSeconds: number;
    decision: Promise<ApprovalDecision>;
  } {
    const approvalId = randomUUID();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const signal = options.signal;
    const decision = new Promise<ApprovalDecision>((resolve) => {
      const timers: { timeout?: NodeJS.Timeout } = {};
      const onAbort = (): void => settle({ approved: false, reason: 'cancelled' });
      const settle = (value: ApprovalDecision): void => {
        if (!this.#pending.delete(approvalId)) return;
        clearTimeout(timers.timeout);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      this.#pending.set(approvalId, { mayAnswer: options.mayAnswer, resolve: settle });
      timers.timeout = setTimeout(() => settle({ approved: false, reason: 'timeout' }), timeoutMs);
      timers.timeout.unref();
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    return { approvalId, expiresInSeconds: Math.ceil(timeoutMs / 1000), decision };
  }

  /**
   * Applies an answer sent by client `resourceId`. `unknown` when the id is not pending or the client is not
   * part of its run (the two are not told apart, so ids cannot be probed); `forbidden` when the client follows
   * the run but its role may not approve — the approval stays pending.
   */
  answer(message: string, resourceId: string): ApprovalAnswer {
    return this.#apply(message, (pending) => pending.mayAnswer(resourceId));
  }

  /**
   * Applies an answer another node of the cluster took from a client of its own and checked (the client follows
   * the run there and its role may approve): only whether the approval still waits is checked here.
   */
  answerChecked(message: string): ApprovalAnswer {
    return this.#apply(message, () => true);
  }

  #apply(message: string, may: (pending: Pending) => boolean | 'forbidden'): ApprovalAnswer {
    if (!isApprovalMessage(message)) return 'not-an-approval';
    const rest = message.slice(APPROVAL_PREFIX.length);
    const slash = rest.indexOf('/');
    const id = approvalIdOf(message);
    if (id === undefined) return 'unknown';
    const pending = this.#pending.get(id);
    const allowed = pending === undefined ? false : may(pending);
    if (!pending || allowed === false) return 'unknown';
    if (allowed === 'forbidden') return 'forbidden';
    const decision = parseDecision(slash === -1 ? '' : rest.slice(slash + 1));
    pending.resolve(decision);
    return decision.approved ? 'approved' : 'denied';
  }

  /** Resolves every pending approval as cancelled. */
  close(): void {
    for (const pending of [...this.#pending.values()])
      pending.resolve({ approved: false, reason: 'cancelled' });
  }
}

function parseDecision(text: string): ApprovalDecision {
  const space = text.search(/\s/);
  const verb = space === -1 ? text : text.slice(0, space);
  const body = space === -1 ? '' : text.slice(space + 1).trim();
  if (verb === 'deny') return { approved: false, reason: 'denied' };
  if (verb !== 'approve') return { approved: false, reason: 'malformed' };
  if (body === '') return { approved: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { approved: false, reason: 'malformed' };
  }
  const args =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)['arguments']
      : undefined;
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    return { approved: false, reason: 'malformed' };
  return { approved: true, arguments: stripDangerousKeys(args as Record<string, unknown>) };
}

function stripDangerousKeys(value: Record<string, unknown>): Record<string, unknown> {
  // Edited arguments come from the client: no key may reach a prototype through a later merge.
  const clean: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    clean[key] = item;
  }
  return clean;
}
