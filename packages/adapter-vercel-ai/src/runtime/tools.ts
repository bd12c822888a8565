import type { JsonSchema, Tool, ToolCallRequest, ToolOutcome } from '@atmosphere/ai/spi';
import { asSchema, jsonSchema, type Tool as SdkTool, type ToolSet } from 'ai';

/**
 * Atmosphere tools as AI SDK tools: each `execute` goes through `runTool` (the endpoint's one gate:
 * validation, approval, `tool-*` events, execution) and hands its result to the SDK's tool loop. A failed call
 * (invalid arguments, a denial, a throw) reaches the model as an error it can react to. `reported` resolves
 * once the full stream's reader has seen the call.
 */
export function toSdkTools(
  tools: readonly Tool[],
  runTool: (call: ToolCallRequest, signal?: AbortSignal) => Promise<ToolOutcome>,
  signal: AbortSignal,
  ran: Set<string>,
  reported: (toolCallId: string) => Promise<void>,
): ToolSet {
  const set: ToolSet = {};
  for (const atmosphereTool of tools) {
    set[atmosphereTool.name] = {
      description: atmosphereTool.description,
      inputSchema: jsonSchema(atmosphereTool.jsonSchema as unknown as Parameters<typeof jsonSchema>[0]),
      execute: async (input: unknown, options: { toolCallId: string }) => {
        ran.add(options.toolCallId);
        // The SDK may run the tool before the full stream's reader reached the call: wait for it, so the
        // tool's own events follow the call's streamed input in the frames.
        await reported(options.toolCallId);
        const outcome = await runTool(
          {
            id: options.toolCallId,
            name: atmosphereTool.name,
            arguments:
              typeof input === 'object' && input !== null && !Array.isArray(input)
                ? (input as Record<string, unknown>)
                : JSON.stringify(input ?? {}),
          },
          signal,
        );
        if (!outcome.ok) throw new Error(outcome.error);
        return outcome.result;
      },
    } satisfies SdkTool;
  }
  return set;
}

type NeedsApproval = boolean | ((input: never, options: never) => unknown);

/**
 * AI SDK tools (`tool({ description, inputSchema, execute, needsApproval })` from `ai`) as Atmosphere tools, for
 * `aiEndpoint({ tools })` or any Atmosphere runtime. Their input schema (Zod, Standard Schema or `jsonSchema()`)
 * validates arguments; `needsApproval` (a boolean or a function of the input) goes through Atmosphere's
 * approval gate (`approval-required` frames answered by `/__approval/<id>/…`), so an app has one approval flow
 * whatever declared the tool. Throws `TypeError` for a tool without `execute` (provider-executed tools run at
 * the provider: give them to the runtime's `tools` option instead).
 */
export function aiSdkTools(tools: ToolSet): Tool[] {
  return Object.entries(tools).map(([name, sdkTool]) => {
    const execute = sdkTool.execute;
    if (typeof execute !== 'function')
      throw new TypeError(
        `AI SDK tool "${name}" has no execute function; provider-executed tools belong in vercelAiRuntime({ tools }).`,
      );
    const schema = asSchema(sdkTool.inputSchema as Parameters<typeof asSchema>[0]);
    const needsApproval = sdkTool.needsApproval as NeedsApproval | undefined;
    const description = typeof sdkTool.description === 'string' ? sdkTool.description : '';
    const parameters: unknown = schema.jsonSchema;
    if (typeof (parameters as PromiseLike<unknown> | undefined)?.then === 'function')
      throw new TypeError(
        `AI SDK tool "${name}" has a lazily computed input schema; give it a Zod, Standard Schema or jsonSchema({...}) schema.`,
      );
    const converted: Tool = {
      name,
      description,
      jsonSchema: parameters as JsonSchema,
      async validate(value) {
        if (!schema.validate) return { ok: true, value };
        const result = await schema.validate(value);
        return result.success
          ? { ok: true, value: result.value }
          : { ok: false, issues: [{ path: '', message: result.error.message }] };
      },
      execute: (args, context) =>
        (execute as (input: unknown, options: unknown) => unknown)(args, {
          toolCallId: context.toolCallId,
          messages: [],
          abortSignal: context.signal,
          context: {},
        }),
      async needsApproval(args) {
        if (typeof needsApproval === 'function')
          return Boolean(
            await (needsApproval as (input: unknown, options: unknown) => unknown)(args, {
              toolCallId: '',
              messages: [],
              context: {},
            }),
          );
        return needsApproval === true;
      },
      approvalMessage: () => `Allow ${name} to run?`,
    };
    return converted;
  });
}
