/**
 * `@atmosphere/mcp`: an MCP server on the official SDK, served by Atmosphere (Streamable HTTP and WebSocket on
 * one path), whose tools reach browsers — broadcasts, streamed AI answers, rooms. `mcpServer(atmosphere, {
 * path, name, version, tools, resources, prompts, auth })`.
 */
export { mcpServer, McpEndpoint, type McpEndpointDescription, newSessionId } from './endpoint.ts';
export { LogEventStore, parseEventId } from './event-store.ts';
export { JsonRpcFailure, MAX_BATCH, MAX_ID_LENGTH } from './json-rpc.ts';
export type {
  AnyMcpPrompt,
  AnyMcpTool,
  McpAuth,
  McpPrincipal,
  McpPromptDefinition,
  McpRateLimit,
  McpResourceDefinition,
  McpSecurityOptions,
  McpServerOptions,
  McpSessionInfo,
  McpToolDefinition,
  McpToolResult,
  ToolArguments,
} from './options.ts';
export { mcpEndpoints, McpEndpoints, MCP_ENDPOINTS_KIND } from './registry.ts';
export { HISTORY_TEMPLATE, PRESENCE_TEMPLATE, presenceUri } from './room-resources.ts';
export { ANONYMOUS, isLoopbackAddress } from './security.ts';
export { mcpPrompt, mcpTool } from './tool.ts';
export type { JoinRoomOptions, McpRequestExtra, McpToolContext } from './tool-context.ts';
export { MCP_SUBPROTOCOL, WebSocketServerTransport } from './websocket-transport.ts';
