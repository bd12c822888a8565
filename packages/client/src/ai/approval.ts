import { approvalMessage } from '@atmosphere/protocol';

/** A tool call waiting for the user's decision (`approval-required`, PROTOCOL.md §7). */
export interface ApprovalRequest {
  readonly approvalId: string;
  readonly toolName: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** What the server says about it, for the user. */
  readonly message: string | undefined;
  /** Seconds before the server gives up waiting (default 300 on the server). */
  readonly expiresIn: number | undefined;
  readonly sessionId: string;
  /** Approves the call, optionally with edited arguments. */
  approve: (editedArguments?: Readonly<Record<string, unknown>>) => void;
  /** Denies the call. */
  deny: () => void;
}

/** Reads an `approval-required` payload; undefined when it has no approval id. */
export function readApproval(
  data: unknown,
  sessionId: string,
  send: (text: string) => void,
): ApprovalRequest | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const raw = data as Record<string, unknown>;
  const approvalId = raw['approvalId'];
  if (typeof approvalId !== 'string' || approvalId.length === 0) return undefined;
  const args = raw['arguments'];
  return {
    approvalId,
    toolName: typeof raw['toolName'] === 'string' ? raw['toolName'] : '',
    arguments: typeof args === 'object' && args !== null ? (args as Record<string, unknown>) : {},
    message: typeof raw['message'] === 'string' ? raw['message'] : undefined,
    expiresIn: typeof raw['expiresIn'] === 'number' ? raw['expiresIn'] : undefined,
    sessionId,
    approve: (editedArguments) => send(approvalMessage(approvalId, 'approve', editedArguments)),
    deny: () => send(approvalMessage(approvalId, 'deny')),
  };
}
