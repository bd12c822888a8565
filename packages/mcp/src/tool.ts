import type { AnySchema, ZodRawShapeCompat } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { McpPromptDefinition, McpToolDefinition } from './options.ts';

/**
 * Defines a tool, inferring `execute`'s argument type from `inputSchema` (a zod object or raw shape — what the
 * SDK accepts). Identity at run time.
 */
export function mcpTool<Schema extends ZodRawShapeCompat | AnySchema | undefined = undefined>(
  definition: McpToolDefinition<Schema>,
): McpToolDefinition<Schema> {
  return definition;
}

/** Defines a prompt, inferring `get`'s argument type from `argsSchema`. Identity at run time. */
export function mcpPrompt<Args extends ZodRawShapeCompat | undefined = undefined>(
  definition: McpPromptDefinition<Args>,
): McpPromptDefinition<Args> {
  return definition;
}
