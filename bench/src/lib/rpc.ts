/**
 * The message shapes between the orchestrator and its server and client processes (Node IPC with the
 * `advanced` serialisation, so typed arrays cross as they are).
 */

/** A call from the parent. */
export interface RpcRequest {
  kind: 'call';
  id: number;
  method: string;
  params: unknown;
}

/** The answer to a call. */
export interface RpcResponse {
  kind: 'result';
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** A one-way message, either direction (progress reports, flow-control credits). */
export interface RpcEvent {
  kind: 'event';
  name: string;
  data: unknown;
}

export type RpcMessage = RpcRequest | RpcResponse | RpcEvent;

export function isRpcMessage(value: unknown): value is RpcMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string'
  );
}
