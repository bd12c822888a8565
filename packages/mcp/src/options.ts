import type { IncomingMessage } from 'node:http';
import type { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type {
  AnySchema,
  SchemaOutput,
  ShapeOutput,
  ZodRawShapeCompat,
} from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type {
  CallToolResult,
  GetPromptResult,
  ReadResourceResult,
  ServerCapabilities,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import type { RoomManager } from '@atmosphere/rooms';
import type { McpPrincipal } from './principal.ts';
import type { McpToolContext } from './tool-context.ts';

export type { McpPrincipal } from './principal.ts';

/**
 * The bearer-token hook. Every MCP request (each HTTP request, each WebSocket upgrade) must carry
 * `Authorization: Bearer <token>`; `verify` returns the principal, or `undefined` to refuse (401 with
 * `WWW-Authenticate: Bearer`). A throw refuses too (logged). The hook is called per request: cache in it.
 */
export interface McpAuth {
  verify(
    token: string,
    request: IncomingMessage,
  ): McpPrincipal | undefined | Promise<McpPrincipal | undefined>;
  /** `realm` of the `WWW-Authenticate` challenge. Default `mcp`. */
  readonly realm?: string;
  /** When set, the challenge names the OAuth protected resource metadata URL (RFC 9728). */
  readonly resourceMetadataUrl?: string;
}

/** A token bucket: `burst` messages at once, refilled at `perSecond`. */
export interface McpRateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/** What the endpoint accepts, and from where. Every check answers a JSON-RPC error, never anything else. */
export interface McpSecurityOptions {
  /**
   * `Host` header values accepted (hostnames, or `host:port`). Default: loopback names only (`localhost`,
   * `127.0.0.1`, `[::1]`, any port) — the DNS-rebinding defence. Set your public host name(s) when serving a
   * network.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * `Origin` header values accepted when a request carries one (browsers always do). Default: loopback origins
   * (`http(s)://localhost|127.0.0.1|[::1]` on any port). A request without `Origin` (a desktop client, a
   * server) is not refused for it.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Accept connections whose remote address is not loopback. Default false: the endpoint serves this machine
   * only (MCP's advice for local servers), whatever address the HTTP server listens on.
   */
  readonly allowRemote?: boolean;
  /** Largest request body / WebSocket message, in bytes. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Deepest JSON nesting accepted in a message. Default 64. */
  readonly maxJsonDepth?: number;
  /** Requests (HTTP) and messages (WebSocket) per principal — or per remote address without auth. Default 50/s, burst 100; `false` turns it off. */
  readonly rateLimit?: McpRateLimit | false;
  /** Most sessions open at once (Streamable HTTP and WebSocket together). Default 1000. */
  readonly maxSessions?: number;
  /** A Streamable HTTP session with no request and no open stream for this long is closed. Default 30 min. */
  readonly sessionIdleMs?: number;
}

/** The arguments a tool's `execute` receives for an input schema. */
export type ToolArguments<Schema> = Schema extends ZodRawShapeCompat
  ? ShapeOutput<Schema>
  : Schema extends AnySchema
    ? SchemaOutput<Schema>
    : Record<string, never>;

/** What a tool's `execute` may return: a full MCP result, or a text (sent as one text content). */
export type McpToolResult = CallToolResult | string;

/**
 * A tool: a name, a schema for its arguments (a zod object, a zod raw shape, or none — as the SDK accepts),
 * and `execute`. Arguments are validated by the SDK before `execute` runs; an invalid call is answered with a
 * tool error. A throw from `execute` is answered as a tool error result (`isError: true`) with its message.
 */
export interface McpToolDefinition<Schema extends ZodRawShapeCompat | AnySchema | undefined = undefined> {
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly inputSchema?: Schema;
  readonly outputSchema?: ZodRawShapeCompat | AnySchema;
  readonly annotations?: ToolAnnotations;
  execute(args: ToolArguments<Schema>, context: McpToolContext): McpToolResult | Promise<McpToolResult>;
}

/** Any tool definition, whatever its schema (the type of `mcpServer({ tools })`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tool list mixes schemas; each is checked by `mcpTool`.
export type AnyMcpTool = McpToolDefinition<any>;

/** A resource at a fixed URI, or a family of them under a URI template (`atmosphere://items/{id}`). */
export interface McpResourceDefinition {
  readonly name: string;
  /** A URI, or a URI template (RFC 6570 level 1, as the SDK's `ResourceTemplate`). */
  readonly uri: string;
  readonly title?: string;
  readonly description?: string;
  readonly mimeType?: string;
  /** For a template: the concrete resources to list (`resources/list`). */
  list?(context: McpToolContext): { uri: string; name: string }[] | Promise<{ uri: string; name: string }[]>;
  read(
    uri: URL,
    variables: Readonly<Record<string, string | string[]>>,
    context: McpToolContext,
  ): ReadResourceResult | Promise<ReadResourceResult>;
}

/** A prompt template. */
export interface McpPromptDefinition<Args extends ZodRawShapeCompat | undefined = undefined> {
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  /** Arguments, as a zod raw shape of string schemas (the SDK's `PromptArgsRawShape`). */
  readonly argsSchema?: Args;
  get(
    args: Args extends ZodRawShapeCompat ? ShapeOutput<Args> : Record<string, never>,
    context: McpToolContext,
  ): GetPromptResult | Promise<GetPromptResult>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the prompt list mixes argument shapes.
export type AnyMcpPrompt = McpPromptDefinition<any>;

/** What `configure` is handed besides the SDK server: the session it serves. */
export interface McpSessionInfo {
  readonly sessionId: string;
  readonly transport: 'streamable-http' | 'websocket';
  readonly principal: McpPrincipal;
}

/** Options of {@link mcpServer}. */
export interface McpServerOptions {
  /** Where the endpoint is served: Streamable HTTP (POST/GET/DELETE) and WebSocket (upgrade, subprotocol `mcp`). */
  readonly path: string;
  /** The server's name and version, as `initialize` reports them. */
  readonly name: string;
  readonly version: string;
  /** Instructions for the model, sent in the `initialize` result. */
  readonly instructions?: string;
  readonly tools?: readonly AnyMcpTool[];
  readonly resources?: readonly McpResourceDefinition[];
  readonly prompts?: readonly AnyMcpPrompt[];
  /** The bearer-token hook. Without it, callers are anonymous (and the loopback default matters all the more). */
  readonly auth?: McpAuth;
  readonly security?: McpSecurityOptions;
  /**
   * The rooms to expose: presence and history of each room as MCP resources
   * (`atmosphere://rooms/{room}/presence`, `…/history`), with `resources/subscribe` (a
   * `notifications/resources/updated` when presence changes). Default: the instance's `RoomManager` when
   * `@atmosphere/rooms` is installed and a manager exists; `false` turns the resources off.
   */
  readonly rooms?: RoomManager | false;
  /** Serve MCP over WebSocket on the same path. Default true. */
  readonly websocket?: boolean;
  /**
   * Resumability: each Streamable HTTP stream's events are kept in the instance's stream log
   * (`atmosphere.log`: memory, or a durable store when one is installed), so a client that lost a stream
   * resumes it with `Last-Event-ID`. Default true.
   */
  readonly resumable?: boolean;
  /** The SSE `retry` hint (ms) sent with each stream's first event. Default 1000. */
  readonly retryIntervalMs?: number;
  /** Extra server capabilities (merged with those the registered tools, resources and prompts imply). */
  readonly capabilities?: ServerCapabilities;
  /**
   * Called for each new session with the SDK's `McpServer`, before it connects: register anything the options
   * do not cover (raw request handlers, completions, resources with custom listing). Runs once per session.
   */
  configure?(server: McpServer, session: McpSessionInfo): void;
}

export type { ResourceTemplate };
