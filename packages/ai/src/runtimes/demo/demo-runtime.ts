import type { Availability } from '@atmosphere/runtime/spi';
import { cancelledError, isAbortError } from '../../errors.ts';
import type { AgentCapability, AgentContext, AgentRuntime } from '../../spi/agent-runtime.ts';
import type { StreamingSession } from '../../streaming/streaming-session.ts';
import type { Tool } from '../../tools/tool.ts';
import { abortableSleep } from '../openai/retry.ts';

export interface DemoRuntimeOptions {
  /** Pause between streamed words. Default 30 ms (a realistic model pace). */
  readonly delayMs?: number;
  /** Default `demo`. */
  readonly name?: string;
  /** Default -100: any real runtime that is available wins. */
  readonly priority?: number;
  /**
   * Replaces the canned answer (the words are streamed one by one). May be async or an async iterable of
   * chunks; a throw ends the session with that error.
   */
  readonly answer?: (context: AgentContext) => string | Promise<string> | AsyncIterable<string>;
}

const CAPABILITIES: ReadonlySet<AgentCapability> = new Set<AgentCapability>([
  'text-streaming',
  'tool-calling',
  'tool-approval',
  'token-usage',
  'cancellation',
]);

const STOP_WORDS = new Set([
  'in',
  'for',
  'at',
  'of',
  'about',
  'to',
  'with',
  'the',
  'a',
  'an',
  'on',
  'please',
  'me',
]);

/** The canned answer of the demo model. */
export function demoAnswer(context: AgentContext): string {
  const prompt = context.message.length > 160 ? `${context.message.slice(0, 157)}…` : context.message;
  const earlier = context.history.filter((m) => m.role === 'user').length;
  return [
    `Hi! I'm the demo model: Atmosphere's stand-in when no LLM is configured, so my words are canned.`,
    `You asked: “${prompt}”${earlier > 0 ? ` (message ${earlier + 1} of our conversation)` : ''}.`,
    `Everything else you see is real: tokens streamed over the transport, progress, tool cards, approvals, and reconnection that resumes where it left off.`,
    `To talk to a real model, set LLM_API_KEY (an OpenAI or Gemini key; LLM_MODEL picks the model, e.g. gpt-4o-mini) or LLM_MODE=local for Ollama, and restart.`,
  ].join(' ');
}

/**
 * A clearly labelled demo model, so every sample runs without a key: it streams a short helpful answer at a
 * realistic pace and says how to configure a real model. When the prompt names one of the endpoint's tools it
 * calls it (arguments guessed from the prompt: `weather in Montreal` → `{ city: "Montreal" }`), approvals
 * included, then reports the result.
 */
export class DemoRuntime implements AgentRuntime {
  readonly name: string;
  readonly priority: number;
  readonly capabilities = CAPABILITIES;
  readonly #options: DemoRuntimeOptions;

  constructor(options: DemoRuntimeOptions = {}) {
    this.#options = options;
    this.name = options.name ?? 'demo';
    this.priority = options.priority ?? -100;
  }

  isAvailable(): Availability {
    return true;
  }

  async execute(context: AgentContext, session: StreamingSession, signal: AbortSignal): Promise<void> {
    const delayMs = this.#options.delayMs ?? 30;
    let output = 0;
    const stream = async (text: string): Promise<void> => {
      for (const word of text.match(/\S+\s*/g) ?? []) {
        if (signal.aborted) throw cancelledError(signal.reason);
        if (delayMs > 0) await abortableSleep(delayMs, signal);
        session.send(word);
        output++;
      }
    };
    try {
      session.metadata('ai.model', 'demo');
      const call = pickTool(context.message, context.tools);
      if (call) {
        session.progress(`Demo model: calling ${call.tool.name}…`);
        const outcome = await context.runTool(
          { id: `demo_${Date.now().toString(36)}`, name: call.tool.name, arguments: call.arguments },
          signal,
        );
        if (signal.aborted) throw cancelledError(signal.reason);
        await stream(
          outcome.ok
            ? `I called ${call.tool.name} and it returned ${outcome.content}. (I'm the demo model: set LLM_API_KEY for a real model to reason about it.)`
            : `I tried ${call.tool.name}, but: ${outcome.error} (I'm the demo model: set LLM_API_KEY for a real model.)`,
        );
      } else {
        const answer = this.#options.answer ? this.#options.answer(context) : demoAnswer(context);
        if (typeof answer === 'string' || answer instanceof Promise) await stream(await answer);
        else for await (const chunk of answer) await stream(chunk);
      }
      session.usage({
        input: countWords(context.messages.map((m) => m.content).join(' ')),
        output,
        total: countWords(context.message) + output,
      });
      session.complete();
    } catch (error) {
      session.error(signal.aborted || isAbortError(error) ? cancelledError(signal.reason) : error);
    }
  }
}

function countWords(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/** The tool a prompt names, with arguments guessed from the words around it. */
function pickTool(
  prompt: string,
  tools: readonly Tool[],
): { tool: Tool; arguments: Record<string, unknown> } | undefined {
  const lower = prompt.toLowerCase();
  for (const tool of tools) {
    const at = lower.indexOf(tool.name.toLowerCase());
    if (at === -1) continue;
    const after = prompt.slice(at + tool.name.length);
    const args: Record<string, unknown> = {};
    const properties = tool.jsonSchema.properties ?? {};
    for (const [name, schema] of Object.entries(properties)) {
      const type = Array.isArray(schema.type) ? (schema.type as string[])[0] : schema.type;
      const named = new RegExp(`\\b${name}\\s*[:=]?\\s*["“]?([^\\s"”,;]+)`, 'i')
        .exec(prompt)?.[1]
        ?.replace(/[.!?]+$/, '');
      if (schema.enum && schema.enum.length > 0)
        args[name] =
          schema.enum.find((e) => typeof e === 'string' && lower.includes(e.toLowerCase())) ?? schema.enum[0];
      else if (type === 'number' || type === 'integer')
        args[name] = Number(/-?\d+(\.\d+)?/.exec(after)?.[0] ?? 1);
      else if (type === 'boolean') args[name] = true;
      else if (type === 'string' || type === undefined) args[name] = named ?? (guessText(after) || 'Paris');
    }
    return { tool, arguments: args };
  }
  return undefined;
}

function guessText(text: string): string {
  const words = text
    .replace(/[?!.,;:"“”]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  while (words.length > 0 && STOP_WORDS.has(words[0]!.toLowerCase())) words.shift();
  // A capitalised run is a name ("New York"); otherwise the first word will do.
  const run: string[] = [];
  for (const word of words) {
    if (!/^\p{Lu}/u.test(word)) break;
    run.push(word);
  }
  return run.length > 0 ? run.join(' ') : (words[0] ?? '');
}

/** The demo model. */
export function demoRuntime(options: DemoRuntimeOptions = {}): DemoRuntime {
  return new DemoRuntime(options);
}
