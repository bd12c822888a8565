/**
 * Adapter overhead: CPU per streamed token of the built-in runtime, the LangChain runtime (ChatOpenAI) and the
 * Google GenAI runtime, each reading the same number of tokens from a replayed provider stream served by a
 * child process (so the measured process does only the runtime's work: HTTP client, parsing, frames).
 *
 *   node --conditions=@atmosphere/source src/overhead.ts [prompts=10] [tokens=400] [rounds=7]
 *
 * Every reader is first warmed with `WARM_PROMPTS` unmeasured prompts; then `rounds` rounds run each reader for
 * `prompts` prompts, in an order that rotates round by round (whatever runs first in a process pays for what
 * the others then find warm, and load from elsewhere lands on all alike). Prints the median over the rounds of
 * µs of CPU (user + system) per token for each runtime, its ratio to the built-in runtime, and the share the
 * adapter adds over its framework read alone (the stream consumed, nothing sent anywhere).
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GoogleGenAiRuntime } from '@atmosphere/adapter-google-genai';
import { LangChainRuntime } from '@atmosphere/adapter-langchain';
import { openAiRuntime } from '@atmosphere/ai';
import { type AgentRuntime, createAgentContext } from '@atmosphere/ai/spi';
import { collectingSession, openAiTranscript, startReplayServer } from '@atmosphere/ai/testing';
import { GoogleGenAI } from '@google/genai';
import { ChatOpenAI } from '@langchain/openai';

const serving = process.argv[2] === 'serve';
const [promptsArg, tokensArg, roundsArg] = process.argv.slice(serving ? 3 : 2);

/** Unmeasured prompts of every reader before the rounds. */
const WARM_PROMPTS = 8;

function geminiBody(tokens: number): string {
  let body = '';
  for (let i = 0; i < tokens; i++)
    body += `data: ${JSON.stringify({
      candidates: [
        {
          content: { parts: [{ text: `word${i} ` }], role: 'model' },
          index: 0,
          ...(i === tokens - 1 ? { finishReason: 'STOP' } : {}),
        },
      ],
      usageMetadata: { promptTokenCount: 12, candidatesTokenCount: i + 1, totalTokenCount: 13 + i },
      modelVersion: 'gemini-2.5-flash',
    })}\r\n\r\n`;
  return body;
}

/** The child: serves `prompts` answers of each of the three OpenAI readers at /v1, Gemini's on demand. */
async function serve(prompts: number, tokens: number): Promise<void> {
  const text = Array.from({ length: tokens }, (_, i) => `word${i} `);
  const openAi = await startReplayServer();
  // Three readers of OpenAI streams (built-in, LangChain, ChatOpenAI alone).
  for (let i = 0; i < 3 * prompts; i++)
    openAi.enqueue({
      kind: 'sse',
      body: openAiTranscript({ text, usage: { prompt: 12, completion: tokens } }),
    });
  const body = geminiBody(tokens);
  const gemini = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'Content-Type': 'text/event-stream' });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => gemini.listen(0, '127.0.0.1', resolve));
  process.send?.({
    openAi: openAi.baseUrl,
    gemini: `http://127.0.0.1:${(gemini.address() as AddressInfo).port}`,
  });
  process.on('disconnect', () => process.exit(0));
}

/** CPU µs per token of `prompts` runs of `once`. */
async function cpuPerToken(once: () => Promise<void>, prompts: number, tokens: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < prompts; i++) await once();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (prompts * tokens);
}

/** One prompt through a runtime, into a collecting session (frames serialised, as for a client). */
function runtimePrompt(runtime: AgentRuntime, tokens: number): () => Promise<void> {
  return async () => {
    const { session, frames } = collectingSession();
    await runtime.execute(
      createAgentContext({ message: 'Count.', session }),
      session,
      new AbortController().signal,
    );
    const texts = frames.items.filter((f) => f.type === 'streaming-text').length;
    if (frames.items.at(-1)?.type !== 'complete' || texts !== tokens)
      throw new Error(`${runtime.name}: expected ${tokens} text frames and complete; got ${texts}`);
  };
}

/**
 * One prompt of the framework's own floor: its stream read to the end, nothing sent anywhere — with an abort
 * signal, as the runtimes pass one (LangChain races every chunk against it).
 */
function alonePrompt(name: string, read: () => Promise<number>, tokens: number): () => Promise<void> {
  return async () => {
    const count = await read();
    if (count !== tokens) throw new Error(`${name}: expected ${tokens} chunks with text; got ${count}`);
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const prompts = Number(promptsArg ?? 10);
  const tokens = Number(tokensArg ?? 400);
  const rounds = Number(roundsArg ?? 7);
  const child = fork(
    new URL(import.meta.url),
    ['serve', String(WARM_PROMPTS + rounds * prompts), String(tokens)],
    { execArgv: ['--conditions=@atmosphere/source'] },
  );
  const urls = await new Promise<{ openAi: string; gemini: string }>((resolve) =>
    child.once('message', (message) => resolve(message as { openAi: string; gemini: string })),
  );
  try {
    const chatOpenAi = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: 'sk-bench',
      configuration: { baseURL: urls.openAi },
      maxRetries: 0,
    });
    const genAi = new GoogleGenAI({
      apiKey: 'bench',
      httpOptions: { baseUrl: urls.gemini, retryOptions: { attempts: 1 } },
    });
    const readers: Record<string, () => Promise<void>> = {
      builtIn: runtimePrompt(
        openAiRuntime({ env: {}, apiKey: 'sk-bench', model: 'gpt-4o-mini', baseUrl: urls.openAi }),
        tokens,
      ),
      langchain: runtimePrompt(new LangChainRuntime({ model: chatOpenAi }), tokens),
      langchainAlone: alonePrompt(
        'ChatOpenAI.stream',
        async () => {
          let count = 0;
          for await (const chunk of await chatOpenAi.stream('Count.', {
            signal: new AbortController().signal,
          }))
            if (chunk.text !== '') count++;
          return count;
        },
        tokens,
      ),
      gemini: runtimePrompt(
        new GoogleGenAiRuntime({ env: {}, apiKey: 'bench', baseUrl: urls.gemini, attempts: 1 }),
        tokens,
      ),
      geminiAlone: alonePrompt(
        'generateContentStream',
        async () => {
          let count = 0;
          const stream = await genAi.models.generateContentStream({
            model: 'gemini-2.5-flash',
            contents: 'Count.',
            config: { abortSignal: new AbortController().signal },
          });
          for await (const chunk of stream) if (chunk.candidates?.[0]?.content?.parts?.[0]?.text) count++;
          return count;
        },
        tokens,
      ),
      frames: async () => {
        const { session, frames: collected } = collectingSession();
        for (let i = 0; i < tokens; i++) session.send(`word${i} `);
        session.complete();
        if (collected.items.filter((f) => f.type === 'streaming-text').length !== tokens)
          throw new Error('frames: not every frame was collected');
      },
    };
    const names = Object.keys(readers);
    for (const name of names) for (let i = 0; i < WARM_PROMPTS; i++) await readers[name]!();
    const samples = new Map<string, number[]>(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length]!;
        samples.get(name)!.push(await cpuPerToken(readers[name]!, prompts, tokens));
      }
    }
    const at = (name: string): number => median(samples.get(name)!);
    const [builtIn, langchain, langchainAlone, gemini, geminiAlone, frames] = names.map(at) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const own = (total: number, alone: number): string =>
      `adapter's own share ${(((total - alone - frames) / total) * 100).toFixed(0)} % (${(total - alone - frames).toFixed(1)} µs)`;
    const line = (name: string, value: number, note: string): void =>
      console.log(`${name.padEnd(34)} ${value.toFixed(1).padStart(6)} µs CPU per token  ${note}`);
    console.log(
      `${rounds} rounds × ${prompts} prompts × ${tokens} tokens per reader after ${WARM_PROMPTS} warm-up prompts each, medians ` +
        '(CPU of this process only; the streams are served by a child)',
    );
    line('built-in runtime', builtIn, '×1.00');
    line('langchain runtime (ChatOpenAI)', langchain, `×${(langchain / builtIn).toFixed(2)} of built-in`);
    line('  ChatOpenAI.stream() alone', langchainAlone, own(langchain, langchainAlone));
    line('google-genai runtime', gemini, `×${(gemini / builtIn).toFixed(2)} of built-in`);
    line('  generateContentStream() alone', geminiAlone, own(gemini, geminiAlone));
    line('frames alone (session.send, collected)', frames, 'paid by every runtime');
  } finally {
    child.disconnect();
  }
}

if (serving) await serve(Number(promptsArg), Number(tokensArg));
else await main();
