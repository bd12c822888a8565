import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseUntrustedJson } from '@atmosphere/protocol';

/** JSON-RPC error codes used by the endpoint (the SDK answers the protocol's own). */
export const JSON_RPC = Object.freeze({
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  serverError: -32000,
  sessionNotFound: -32001,
});

/** Longest string id accepted; numeric ids must be safe integers. */
export const MAX_ID_LENGTH = 256;
/** Most messages in one batch (the 2025-06-18 revision and later have no batches; older clients may send them). */
export const MAX_BATCH = 32;

/**
 * A refusal answered with a JSON-RPC error object (`id: null`) and an HTTP status — the only kind of
 * answer an MCP request gets besides the protocol's own.
 */
export class JsonRpcFailure extends Error {
  readonly status: number;
  readonly code: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'JsonRpcFailure';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /** The JSON-RPC error message of this failure. */
  body(id: string | number | null = null): string {
    return JSON.stringify({ jsonrpc: '2.0', error: { code: this.code, message: this.message }, id });
  }
}

/** Answers a failure on an HTTP response (or destroys it when the headers already went). */
export function sendFailure(response: ServerResponse, failure: JsonRpcFailure): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = failure.body();
  response.writeHead(failure.status, {
    ...failure.headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  response.end(body);
}

/** Reads a request body up to `maxBytes` (413 beyond, without reading the rest). */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(request.headers['content-length']);
  const tooLarge = (): JsonRpcFailure =>
    new JsonRpcFailure(
      413,
      JSON_RPC.invalidRequest,
      `Payload too large: the limit is ${maxBytes} bytes (option \`security.maxMessageBytes\`).`,
      { Connection: 'close' },
    );
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function checkId(id: unknown): void {
  if (id === undefined || id === null) return;
  if (typeof id === 'string' ? id.length > MAX_ID_LENGTH : !Number.isSafeInteger(id)) {
    throw new JsonRpcFailure(
      400,
      JSON_RPC.invalidRequest,
      `Invalid Request: a JSON-RPC id must be a string of at most ${MAX_ID_LENGTH} characters or a safe integer.`,
    );
  }
}

function checkMessage(message: unknown): void {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new JsonRpcFailure(
      400,
      JSON_RPC.invalidRequest,
      'Invalid Request: a JSON-RPC message is an object.',
    );
  }
  const record = message as Record<string, unknown>;
  if (record['jsonrpc'] !== '2.0') {
    throw new JsonRpcFailure(400, JSON_RPC.invalidRequest, 'Invalid Request: `jsonrpc` must be "2.0".');
  }
  checkId(record['id']);
  const method = record['method'];
  if (method !== undefined && (typeof method !== 'string' || method.length > 256)) {
    throw new JsonRpcFailure(
      400,
      JSON_RPC.invalidRequest,
      'Invalid Request: `method` must be a short string.',
    );
  }
}

/**
 * Parses an untrusted JSON-RPC payload: the depth limit and the removal of prototype keys
 * (`__proto__`, `constructor`, `prototype`) of `parseUntrustedJson`, then the envelope checks the SDK does not
 * make (id size, batch size). Throws a {@link JsonRpcFailure} (-32700 or -32600); the SDK validates the rest.
 */
export function parseJsonRpc(text: string, maxDepth: number): unknown {
  let value: unknown;
  try {
    value = parseUntrustedJson(text, maxDepth);
  } catch (error) {
    throw new JsonRpcFailure(400, JSON_RPC.parseError, `Parse error: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) {
    if (value.length === 0 || value.length > MAX_BATCH) {
      throw new JsonRpcFailure(
        400,
        JSON_RPC.invalidRequest,
        `Invalid Request: a batch holds 1 to ${MAX_BATCH} messages.`,
      );
    }
    for (const message of value) checkMessage(message);
  } else {
    checkMessage(value);
  }
  return value;
}
