/**
 * The server the official conformance suite (`@modelcontextprotocol/conformance`, server mode) runs against:
 * the tools, resources and prompts its scenarios call (`test_simple_text`, `test://static-text`, …), with the
 * same behaviour as the suite's reference "everything server", defined through `mcpServer()`'s options —
 * and, for the few things those do not cover (completions, a tool listed with a raw JSON Schema 2020-12), the
 * `configure` hook on the SDK server.
 */
import { toJsonSchemaCompat } from '@modelcontextprotocol/sdk/server/zod-json-schema-compat.js';
import {
  CompleteRequestSchema,
  ElicitResultSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type ElicitRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  type AnyMcpTool,
  mcpPrompt,
  type McpResourceDefinition,
  type McpServerOptions,
  mcpTool,
  type McpToolContext,
} from '../src/index.ts';

const IMAGE =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const AUDIO = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object' as const,
  $defs: {
    address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } },
  },
  properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
  additionalProperties: false,
};

function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }] };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function elicit(context: McpToolContext, params: ElicitRequest['params']): Promise<CallToolResult> {
  try {
    const result = await context.extra.sendRequest(
      { method: 'elicitation/create', params },
      ElicitResultSchema,
    );
    return textResult(
      `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
    );
  } catch (error) {
    return textResult(`Elicitation not supported or error: ${(error as Error).message}`);
  }
}

const tools: AnyMcpTool[] = [
  mcpTool({
    name: 'test_simple_text',
    description: 'Tests simple text content response',
    execute: () => 'This is a simple text response for testing.',
  }),
  mcpTool({
    name: 'test_image_content',
    description: 'Tests image content response',
    execute: () => ({ content: [{ type: 'image', data: IMAGE, mimeType: 'image/png' }] }),
  }),
  mcpTool({
    name: 'test_audio_content',
    description: 'Tests audio content response',
    execute: () => ({ content: [{ type: 'audio', data: AUDIO, mimeType: 'audio/wav' }] }),
  }),
  mcpTool({
    name: 'test_embedded_resource',
    description: 'Tests embedded resource content response',
    execute: () => ({
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    }),
  }),
  mcpTool({
    name: 'test_multiple_content_types',
    description: 'Tests response with multiple content types (text, image, resource)',
    execute: () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: IMAGE, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  }),
  mcpTool({
    name: 'test_tool_with_logging',
    description: 'Tests tool that emits log messages during execution',
    async execute(_args, context) {
      for (const [index, data] of [
        'Tool execution started',
        'Tool processing data',
        'Tool execution completed',
      ].entries()) {
        if (index > 0) await pause(50);
        await context.extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', data },
        });
      }
      return 'Tool with logging executed successfully';
    },
  }),
  mcpTool({
    name: 'test_tool_with_progress',
    description: 'Tests tool that reports progress notifications',
    async execute(_args, context) {
      for (const step of [0, 50, 100]) {
        if (step > 0) await pause(50);
        await context.progress(step, { total: 100, message: `Completed step ${step} of 100` });
      }
      return String(context.extra._meta?.progressToken ?? 0);
    },
  }),
  mcpTool({
    name: 'test_error_handling',
    description: 'Tests error response handling',
    execute: () => {
      throw new Error('This tool intentionally returns an error for testing');
    },
  }),
  mcpTool({
    name: 'test_reconnection',
    description:
      'Tests SSE stream disconnection and client reconnection (SEP-1699): the stream is closed mid-call.',
    async execute(_args, context) {
      context.extra.closeSSEStream?.();
      await pause(100);
      return 'Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.';
    },
  }),
  mcpTool({
    name: 'test_sampling',
    description: 'Tests server-initiated sampling (LLM completion request)',
    inputSchema: { prompt: z.string().describe('The prompt to send to the LLM') },
    async execute({ prompt }, context) {
      try {
        const result = await context.extra.sendRequest(
          {
            method: 'sampling/createMessage',
            params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 },
          },
          z.object({ content: z.object({ text: z.string().optional() }).passthrough() }).passthrough(),
        );
        return `LLM response: ${result.content.text ?? 'No response'}`;
      } catch (error) {
        return `Sampling not supported or error: ${(error as Error).message}`;
      }
    },
  }),
  mcpTool({
    name: 'test_elicitation',
    description: 'Tests server-initiated elicitation (user input request)',
    inputSchema: { message: z.string().describe('The message to show the user') },
    execute: ({ message }, context) =>
      elicit(context, {
        message,
        requestedSchema: {
          type: 'object',
          properties: { response: { type: 'string', description: "User's response" } },
          required: ['response'],
        },
      }),
  }),
  mcpTool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Tests elicitation with default values per SEP-1034',
    execute: (_args, context) =>
      elicit(context, {
        message: 'Please review and update the form fields with defaults',
        requestedSchema: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'User name', default: 'John Doe' },
            age: { type: 'integer', description: 'User age', default: 30 },
            score: { type: 'number', description: 'User score', default: 95.5 },
            status: {
              type: 'string',
              description: 'User status',
              enum: ['active', 'inactive', 'pending'],
              default: 'active',
            },
            verified: { type: 'boolean', description: 'Verification status', default: true },
          },
          required: [],
        },
      }),
  }),
  mcpTool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Tests elicitation with enum schema improvements per SEP-1330',
    execute: (_args, context) =>
      elicit(context, {
        message: 'Please select options from the enum fields',
        requestedSchema: {
          type: 'object',
          properties: {
            untitledSingle: {
              type: 'string',
              description: 'Select one option',
              enum: ['option1', 'option2', 'option3'],
            },
            titledSingle: {
              type: 'string',
              description: 'Select one option with titles',
              oneOf: [
                { const: 'value1', title: 'First Option' },
                { const: 'value2', title: 'Second Option' },
                { const: 'value3', title: 'Third Option' },
              ],
            },
            legacyEnum: {
              type: 'string',
              description: 'Select one option (legacy)',
              enum: ['opt1', 'opt2', 'opt3'],
              enumNames: ['Option One', 'Option Two', 'Option Three'],
            },
            untitledMulti: {
              type: 'array',
              description: 'Select multiple options',
              minItems: 1,
              maxItems: 3,
              items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
            },
            titledMulti: {
              type: 'array',
              description: 'Select multiple options with titles',
              minItems: 1,
              maxItems: 3,
              items: {
                anyOf: [
                  { const: 'value1', title: 'First Choice' },
                  { const: 'value2', title: 'Second Choice' },
                  { const: 'value3', title: 'Third Choice' },
                ],
              },
            },
          },
          required: [],
        },
      }),
  }),
  mcpTool({
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)',
    inputSchema: {
      name: z.string().optional(),
      address: z.object({ street: z.string().optional(), city: z.string().optional() }).optional(),
    },
    execute: (args) => `JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`,
  }),
];

const resources: McpResourceDefinition[] = [
  {
    name: 'static-text',
    uri: 'test://static-text',
    title: 'Static Text Resource',
    description: 'A static text resource for testing',
    mimeType: 'text/plain',
    read: () => ({
      contents: [
        {
          uri: 'test://static-text',
          mimeType: 'text/plain',
          text: 'This is the content of the static text resource.',
        },
      ],
    }),
  },
  {
    name: 'static-binary',
    uri: 'test://static-binary',
    title: 'Static Binary Resource',
    description: 'A static binary resource (image) for testing',
    mimeType: 'image/png',
    read: () => ({ contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: IMAGE }] }),
  },
  {
    name: 'template',
    uri: 'test://template/{id}/data',
    title: 'Resource Template',
    description: 'A resource template with parameter substitution',
    mimeType: 'application/json',
    read: (uri, variables) => ({
      contents: [
        {
          uri: uri.toString(),
          mimeType: 'application/json',
          text: JSON.stringify({
            id: variables['id'],
            templateTest: true,
            data: `Data for ID: ${String(variables['id'])}`,
          }),
        },
      ],
    }),
  },
  {
    name: 'watched-resource',
    uri: 'test://watched-resource',
    title: 'Watched Resource',
    description: 'A resource that auto-updates every 3 seconds',
    mimeType: 'text/plain',
    read: () => ({
      contents: [
        { uri: 'test://watched-resource', mimeType: 'text/plain', text: 'Watched resource content' },
      ],
    }),
  },
];

const prompts = [
  mcpPrompt({
    name: 'test_simple_prompt',
    title: 'Simple Test Prompt',
    description: 'A simple prompt without arguments',
    get: () => ({
      messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
    }),
  }),
  mcpPrompt({
    name: 'test_prompt_with_arguments',
    title: 'Prompt With Arguments',
    description: 'A prompt with required arguments',
    argsSchema: {
      arg1: z.string().describe('First test argument'),
      arg2: z.string().describe('Second test argument'),
    },
    get: ({ arg1, arg2 }) => ({
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` },
        },
      ],
    }),
  }),
  mcpPrompt({
    name: 'test_prompt_with_embedded_resource',
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that includes an embedded resource',
    argsSchema: { resourceUri: z.string().describe('URI of the resource to embed') },
    get: ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  }),
  mcpPrompt({
    name: 'test_prompt_with_image',
    title: 'Prompt With Image',
    description: 'A prompt that includes image content',
    get: () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: IMAGE, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    }),
  }),
];

interface ListedTool {
  enabled: boolean;
  title?: string;
  description?: string;
  inputSchema?: Parameters<typeof toJsonSchemaCompat>[0];
  annotations?: Tool['annotations'];
}

/** The options of the conformance server (mount with `mcpServer(atmosphere, { path, ...conformanceOptions() })`). */
export function conformanceOptions(): Omit<McpServerOptions, 'path'> {
  return {
    name: 'atmosphere-conformance',
    version: '1.0.0',
    tools,
    resources,
    prompts,
    rooms: false,
    capabilities: { completions: {}, tools: { listChanged: true }, prompts: { listChanged: true } },
    configure(server) {
      server.server.setRequestHandler(CompleteRequestSchema, () => ({
        completion: { values: [], total: 0, hasMore: false },
      }));
      // SEP-1613: one tool is listed with a raw JSON Schema 2020-12 (the SDK's 1.x tools take zod schemas
      // and would list a converted one); the others as the SDK converts them.
      server.server.setRequestHandler(ListToolsRequestSchema, () => {
        const registered = (server as unknown as { _registeredTools: Record<string, ListedTool> })
          ._registeredTools;
        return {
          tools: Object.entries(registered)
            .filter(([, tool]) => tool.enabled)
            .map(([name, tool]): Tool => {
              if (name === 'json_schema_2020_12_tool') {
                return { name, description: tool.description, inputSchema: JSON_SCHEMA_2020_12 };
              }
              const inputSchema = tool.inputSchema
                ? (toJsonSchemaCompat(tool.inputSchema, {
                    strictUnions: true,
                    pipeStrategy: 'input',
                  }) as Tool['inputSchema'])
                : { type: 'object' as const, properties: {} };
              return {
                name,
                ...(tool.title === undefined ? {} : { title: tool.title }),
                ...(tool.description === undefined ? {} : { description: tool.description }),
                inputSchema,
                ...(tool.annotations === undefined ? {} : { annotations: tool.annotations }),
              };
            }),
        };
      });
    },
  };
}
