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

/** The words of a prompt worth repeating (no stop words, no speaker prefix such as `alice: `), in order, once each. */
function contentWords(prompt: string): string[] {
  const text = prompt.replace(/^[\w.@+-]{1,128}:\s+/u, '');
  const seen = new Set<string>();
  const words: string[] = [];
  for (const raw of text.match(/[\p{L}\p{N}'’-]+/gu) ?? []) {
    const word = raw.toLowerCase().replace(/^['’-]+|['’-]+$/g, '');
    if (word.length < 3 || STOP_WORDS.has(word) || FILLER_WORDS.has(word) || seen.has(word)) continue;
    seen.add(word);
    words.push(word);
  }
  return words;
}

const FILLER_WORDS = new Set([
  'and',
  'but',
  'can',
  'could',
  'would',
  'you',
  'your',
  'what',
  'who',
  'how',
  'why',
  'when',
  'where',
  'which',
  'this',
  'that',
  'are',
  'was',
  'were',
  'is',
  'does',
  'did',
  'write',
  'tell',
  'give',
  'make',
  'some',
  'something',
  'poem',
  'about',
  'there',
  'have',
  'has',
  'will',
]);

/** The persona a system prompt gives (`You are Poet, …`), and whether it asks for verse. */
function personaOf(systemPrompt: string | undefined): { name: string | undefined; poet: boolean } {
  const prompt = systemPrompt ?? '';
  return {
    name: /\b[Yy]ou are (?:an? |the )?([\p{Lu}][\p{L}\p{N}_-]*)/u.exec(prompt)?.[1],
    poet: /\b(poet|poem|poems|verse|haiku|rhyme)\b/i.test(prompt),
  };
}

/** A short poem of four lines made of the prompt's words, signed as the demo model's. */
export function demoPoem(prompt: string): string {
  const words = contentWords(prompt);
  const fallback = ['wires', 'light', 'rain', 'morning'];
  for (const word of fallback) if (words.length < 4 && !words.includes(word)) words.push(word);
  const [a, b, c, d] = words as [string, string, string, string];
  const capital = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);
  let hash = 0;
  for (const char of prompt) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  const poems = [
    [`Of ${a} I sing, and ${b} too,`, `${capital(c)} hums softly, ${d} shines through;`],
    [`You gave me ${a}, you gave me ${b},`, `I fold them into ${c} and ${d};`],
    [`${capital(a)} at dawn and ${b} by night,`, `${c} and ${d} take flight;`],
  ];
  const [first, second] = poems[hash % poems.length]!;
  return [first, second, 'no model wakes behind this rhyme:', 'a demo poet, keeping time.'].join('\n');
}

/**
 * The canned answer of the demo model, in the persona its system prompt gives: a poem made of the prompt's words
 * when the prompt asks for verse (`You are Poet, … a short poem`), else a short note, signed with the persona's
 * name, that says it is the demo model and how to configure a real one. It never claims what the application
 * around it does.
 */
export function demoAnswer(context: AgentContext): string {
  const persona = personaOf(context.systemPrompt);
  if (persona.poet) return demoPoem(context.message);
  const prompt = context.message.length > 160 ? `${context.message.slice(0, 157)}…` : context.message;
  const earlier = context.history.filter((m) => m.role === 'user').length;
  const as = persona.name ? `, standing in for ${persona.name}` : '';
  const topic = contentWords(context.message).slice(0, 3);
  return [
    `Hi! I'm the demo model${as}: no LLM is configured, so my words are canned and I can't really answer.`,
    `You asked: “${prompt}”${earlier > 0 ? ` (message ${earlier + 1} of our conversation)` : ''}.`,
    topic.length > 0 ? `A real model would have something to say about ${topic.join(', ')}.` : '',
    `To talk to one, set LLM_API_KEY (an OpenAI or Gemini key; LLM_MODEL picks the model, e.g. gpt-4o-mini) or LLM_MODE=local for Ollama, and restart.`,
  ]
    .filter(Boolean)
    .join(' ');
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

/** Verbs of tool names that a prompt need not repeat: `get_weather` is asked for as "the weather in Paris". */
const TOOL_VERBS = new Set([
  'get',
  'fetch',
  'find',
  'lookup',
  'look',
  'search',
  'list',
  'show',
  'send',
  'do',
  'run',
]);

/** Where a prompt asks for a tool: its name (`send_email`), or the nouns of it as words (`an email`); -1 when not. */
function toolMention(prompt: string, lower: string, name: string): number {
  const at = lower.indexOf(name.toLowerCase());
  if (at !== -1) return at;
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 1 && !TOOL_VERBS.has(word));
  if (words.length === 0) return -1;
  let first = -1;
  for (const word of words) {
    const found = new RegExp(`(^|[^\\p{L}\\p{N}])${word}(s|es)?(?![\\p{L}\\p{N}])`, 'iu').exec(prompt);
    if (!found) return -1;
    const index = found.index + found[1]!.length;
    if (first === -1 || index < first) first = index;
  }
  return first;
}

const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)+/;

/** The tool a prompt names, with arguments guessed from the words around it. */
function pickTool(
  prompt: string,
  tools: readonly Tool[],
): { tool: Tool; arguments: Record<string, unknown> } | undefined {
  const lower = prompt.toLowerCase();
  for (const tool of tools) {
    const at = toolMention(prompt, lower, tool.name);
    if (at === -1) continue;
    const after = prompt.slice(at).replace(/^[\p{L}\p{N}_-]+/u, '');
    const args: Record<string, unknown> = {};
    const properties = tool.jsonSchema.properties ?? {};
    for (const [name, schema] of Object.entries(properties)) {
      const type = Array.isArray(schema.type) ? (schema.type as string[])[0] : schema.type;
      if (schema.enum && schema.enum.length > 0)
        args[name] =
          schema.enum.find((e) => typeof e === 'string' && lower.includes(e.toLowerCase())) ?? schema.enum[0];
      else if (type === 'number' || type === 'integer')
        args[name] = Number(/-?\d+(\.\d+)?/.exec(after)?.[0] ?? /-?\d+(\.\d+)?/.exec(prompt)?.[0] ?? 1);
      else if (type === 'boolean') args[name] = true;
      else if (type === 'string' || type === undefined)
        args[name] = guessString(name, schema.description, prompt, after);
    }
    return { tool, arguments: args };
  }
  return undefined;
}

/** A string argument from the prompt, by what the parameter is: an address, a subject, a text, else a name or place. */
function guessString(name: string, description: string | undefined, prompt: string, after: string): string {
  const key = name.toLowerCase();
  const about = `${key} ${description ?? ''}`.toLowerCase();
  // `value: ping`, `city=Paris`, `to bob@example.com`
  const named = new RegExp(`\\b${name}\\s*[:=]?\\s*["“]?([^\\s"”,;]+)`, 'i')
    .exec(prompt)?.[1]
    ?.replace(/[.!?]+$/, '');
  const useful =
    named !== undefined && !STOP_WORDS.has(named.toLowerCase()) && !FILLER_WORDS.has(named.toLowerCase());
  if (
    /\b(to|email|e-mail|recipient|address)\b/.test(about) &&
    /^(to|email|recipient|address|from)$/.test(key)
  ) {
    const email = EMAIL.exec(prompt)?.[0];
    if (email) return email;
  }
  if (useful && !/^(subject|title|topic|body|text|message|content)$/.test(key)) return named;
  // "… to say the build is green", "… about the launch": what the message says, what it is about.
  const said = /\b(?:to say|saying|that says|telling (?:them|him|her))\s+(?:that\s+)?([^.!?]+)/i
    .exec(prompt)?.[1]
    ?.trim();
  const topic = /\b(?:about|regarding|titled|subject)\s+["“]?([^.!?"”]+)/i.exec(prompt)?.[1]?.trim();
  if (/^(subject|title|topic)$/.test(key)) {
    const text = topic ?? said ?? contentWords(after).slice(0, 5).join(' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  if (/^(body|text|message|content|query|question|prompt)$/.test(key)) {
    const text = said ?? topic ?? prompt.trim();
    return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
  }
  if (useful) return named;
  return guessText(after) || guessText(prompt) || 'Paris';
}

/** A name or place: the words after `in`/`for`/`at`… (a capitalised run: "New York"), else a capitalised run, else the first word. */
function guessText(text: string): string {
  const words = text
    .replace(/[?!.,;:"“”]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  const runFrom = (start: number): string => {
    const run: string[] = [];
    for (let i = start; i < words.length && /^\p{Lu}/u.test(words[i]!); i++) run.push(words[i]!);
    return run.join(' ');
  };
  for (let i = 0; i < words.length - 1; i++) {
    if (!/^(in|for|at|of|near|from|to)$/i.test(words[i]!)) continue;
    let next = i + 1;
    while (next < words.length - 1 && /^(the|a|an)$/i.test(words[next]!)) next++;
    const run = runFrom(next);
    if (run) return run;
    if (/^(in|for|at|near)$/i.test(words[i]!) && !STOP_WORDS.has(words[next]!.toLowerCase()))
      return words[next]!;
  }
  for (let i = 1; i < words.length; i++) {
    const run = runFrom(i);
    if (run) return run;
  }
  while (
    words.length > 0 &&
    (STOP_WORDS.has(words[0]!.toLowerCase()) || FILLER_WORDS.has(words[0]!.toLowerCase()))
  )
    words.shift();
  return words[0] ?? '';
}

/** The demo model. */
export function demoRuntime(options: DemoRuntimeOptions = {}): DemoRuntime {
  return new DemoRuntime(options);
}
