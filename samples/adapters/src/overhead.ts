/**
 * Adapter overhead: CPU per streamed token of the built-in runtime, the LangChain runtime (ChatOpenAI) and the
 * Google GenAI runtime, each reading the same number of tokens from a replayed provider stream served by a
 * child process (so the measured process does only the runtime's work: HTTP client, parsing, frames).
 *
 *   node --conditions=@atmosphere/source src/overhead.ts [prompts=40] [tokens=400]
 *
 * Prints µs of CPU (user + system) per token for each runtime, its ratio to the built-in runtime, and the share
 * the adapter adds over its framework read alone (the stream consumed, nothing sent anywhere).
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
const [promptsArg, tokensArg] = process.argv.slice(serving ? 3 : 2);

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

/** The child: serves `prompts` OpenAI answers at /v1 and `prompts` Gemini answers, and reports its ports. */
async function serve(prompts: number, tokens: number): Promise<void> {
  const text = Array.from({ length: tokens }, (_, i) => `word${i} `);
  const openAi = await startReplayServer();
  // Three readers of OpenAI streams (built-in, LangChain, ChatOpenAI alone), two warm-up rounds each.
  for (let i = 0; i < 3 * (prompts + 2); i++)
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

async function cpuPerToken(once: () => Promise<void>, prompts: number, tokens: number): Promise<number> {
  for (let i = 0; i < 2; i++) await once(); // warm-up
  const start = process.cpuUsage();
  for (let i = 0; i < prompts; i++) await once();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (prompts * tokens);
}

/** A runtime's CPU per token: `execute` into a collecting session (frames serialised, as for a client). */
function measure(runtime: AgentRuntime, prompts: number, tokens: number): Promise<number> {
  return cpuPerToken(
    async () => {
      const { session, frames } = collectingSession();
      await runtime.execute(
        createAgentContext({ message: 'Count.', session }),
        session,
        new AbortController().signal,
      );
      const texts = frames.items.filter((f) => f.type === 'streaming-text').length;
      if (frames.items.at(-1)?.type !== 'complete' || texts !== tokens)
        throw new Error(`${runtime.name}: expected ${tokens} text frames and complete; got ${texts}`);
    },
    prompts,
    tokens,
  );
}

/**
 * The framework's own floor: its stream read to the end, nothing sent anywhere — with an abort signal, as the
 * runtimes pass one (LangChain races every chunk against it).
 */
function measureAlone(
  name: string,
  read: () => Promise<number>,
  prompts: number,
  tokens: number,
): Promise<number> {
  return cpuPerToken(
    async () => {
      const count = await read();
      if (count !== tokens) throw new Error(`${name}: expected ${tokens} chunks with text; got ${count}`);
    },
    prompts,
    tokens,
  );
}

async function main(): Promise<void> {
  const prompts = Number(promptsArg ?? 40);
  const tokens = Number(tokensArg ?? 400);
  const child = fork(new URL(import.meta.url), ['serve', String(prompts), String(tokens)], {
    execArgv: ['--conditions=@atmosphere/source'],
  });
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
    const builtIn = await measure(
      openAiRuntime({ env: {}, apiKey: 'sk-bench', model: 'gpt-4o-mini', baseUrl: urls.openAi }),
      prompts,
      tokens,
    );
    const langchain = await measure(new LangChainRuntime({ model: chatOpenAi }), prompts, tokens);
    const langchainAlone = await measureAlone(
      'ChatOpenAI.stream',
      async () => {
        let count = 0;
        for await (const chunk of await chatOpenAi.stream('Count.', { signal: new AbortController().signal }))
          if (chunk.text !== '') count++;
        return count;
      },
      prompts,
      tokens,
    );
    const gemini = await measure(
      new GoogleGenAiRuntime({ env: {}, apiKey: 'bench', baseUrl: urls.gemini, attempts: 1 }),
      prompts,
      tokens,
    );
    const geminiAlone = await measureAlone(
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
      prompts,
      tokens,
    );
    const frames = await cpuPerToken(
      async () => {
        const { session, frames: collected } = collectingSession();
        for (let i = 0; i < tokens; i++) session.send(`word${i} `);
        session.complete();
        if (collected.items.filter((f) => f.type === 'streaming-text').length !== tokens)
          throw new Error('frames: not every frame was collected');
      },
      prompts,
      tokens,
    );
    const own = (total: number, alone: number): string =>
      `adapter's own share ${(((total - alone - frames) / total) * 100).toFixed(0)} % (${(total - alone - frames).toFixed(1)} µs)`;
    const line = (name: string, value: number, note: string): void =>
      console.log(`${name.padEnd(34)} ${value.toFixed(1).padStart(6)} µs CPU per token  ${note}`);
    console.log(
      `${prompts} prompts × ${tokens} tokens each (CPU of this process only; the streams are served by a child)`,
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
