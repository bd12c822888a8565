import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { RawData, WebSocket } from 'ws';
import { JSON_RPC, JsonRpcFailure, parseJsonRpc } from './json-rpc.ts';

/** The WebSocket subprotocol of MCP (what the SDK's `WebSocketClientTransport` asks for). */
export const MCP_SUBPROTOCOL = 'mcp';

/** What the transport checks per message before the SDK sees it. */
export interface WebSocketTransportOptions {
  readonly sessionId: string;
  readonly maxJsonDepth: number;
  readonly authInfo: AuthInfo | undefined;
  /** Takes one token of the caller's rate limit; false = refuse the message. */
  readonly take: () => boolean;
}

/**
 * An MCP server transport over one WebSocket (the `ws` server of the endpoint): one JSON-RPC message per
 * text frame, as the SDK's `WebSocketClientTransport` speaks it. Each frame goes through the same untrusted
 * JSON rules as HTTP bodies; a refused frame is answered with a JSON-RPC error and the socket stays open.
 */
export class WebSocketServerTransport implements Transport {
  readonly sessionId: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  readonly #socket: WebSocket;
  readonly #options: WebSocketTransportOptions;
  #closed = false;

  constructor(socket: WebSocket, options: WebSocketTransportOptions) {
    this.#socket = socket;
    this.#options = options;
    this.sessionId = options.sessionId;
  }

  start(): Promise<void> {
    this.#socket.on('message', (data: RawData, isBinary: boolean) => this.#receive(data, isBinary));
    this.#socket.on('close', () => this.#closedBySocket());
    this.#socket.on('error', (error: Error) => this.onerror?.(error));
    return Promise.resolve();
  }

  #receive(data: RawData, isBinary: boolean): void {
    let id: string | number | null = null;
    try {
      if (isBinary) {
        throw new JsonRpcFailure(
          400,
          JSON_RPC.invalidRequest,
          'Invalid Request: MCP messages are text frames.',
        );
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8');
      const value = parseJsonRpc(text, this.#options.maxJsonDepth);
      const first = Array.isArray(value) ? undefined : (value as { id?: unknown }).id;
      if (typeof first === 'string' || typeof first === 'number') id = first;
      if (!this.#options.take()) {
        throw new JsonRpcFailure(
          429,
          JSON_RPC.serverError,
          'Too many requests: the rate limit of this MCP endpoint was exceeded (option `security.rateLimit`).',
        );
      }
      const messages: JSONRPCMessage[] = [];
      for (const item of Array.isArray(value) ? value : [value]) {
        const parsed = JSONRPCMessageSchema.safeParse(item);
        if (!parsed.success) {
          throw new JsonRpcFailure(
            400,
            JSON_RPC.invalidRequest,
            'Invalid Request: not a JSON-RPC 2.0 message.',
          );
        }
        messages.push(parsed.data);
      }
      const extra = this.#options.authInfo ? { authInfo: this.#options.authInfo } : undefined;
      for (const message of messages) this.onmessage?.(message, extra);
    } catch (error) {
      const failure =
        error instanceof JsonRpcFailure
          ? error
          : new JsonRpcFailure(400, JSON_RPC.parseError, 'Parse error: the message could not be read.');
      if (this.#socket.readyState === this.#socket.OPEN) this.#socket.send(failure.body(id));
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed || this.#socket.readyState !== this.#socket.OPEN) {
      return Promise.reject(new Error('The MCP WebSocket is closed.'));
    }
    return new Promise((resolve, reject) => {
      this.#socket.send(JSON.stringify(message), (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    if (!this.#closed && this.#socket.readyState <= this.#socket.OPEN)
      this.#socket.close(1001, 'MCP session closed');
    this.#closedBySocket();
    return Promise.resolve();
  }

  #closedBySocket(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }
}
