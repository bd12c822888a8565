import {
  agentRuntimeContract,
  CONTRACT_ENTITY,
  CONTRACT_TEXT,
  type ContractCapabilityScenario,
  type ContractScenario,
  type ContractSubject,
} from '@atmosphere/ai/testing';
import type { ChatImagePart } from '@atmosphere/ai/spi';
import { GoogleGenAI } from '@google/genai';
import { GoogleGenAiRuntime } from '../src/index.ts';
import { fixture, type GeminiStep, startGeminiServer } from './gemini-server.ts';

function slowStory(): string {
  return Array.from(
    { length: 400 },
    (_, i) =>
      `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: `word${i} ` }], role: 'model' }, index: 0 }], modelVersion: 'gemini-2.5-flash' })}\r\n\r\n`,
  ).join('');
}

const steps: Record<ContractScenario | ContractCapabilityScenario, GeminiStep[]> = {
  text: [{ kind: 'sse', body: fixture('gemini-text.sse') }],
  'tool-call': [
    { kind: 'sse', body: fixture('gemini-function-call.sse') },
    { kind: 'sse', body: fixture('gemini-function-followup.sse') },
  ],
  structured: [{ kind: 'sse', body: fixture('gemini-structured.sse') }],
  error: [{ kind: 'http', status: 400, body: fixture('gemini-400-invalid-key.json') }],
  slow: [{ kind: 'sse', body: slowStory(), pauseAfter: 3 }],
  reasoning: [{ kind: 'sse', body: fixture('gemini-thinking.sse') }],
  vision: [{ kind: 'sse', body: fixture('gemini-text.sse') }],
  // Not declared (the scenario is skipped): a Gemini request takes no cache key or breakpoint.
  'prompt-caching': [{ kind: 'sse', body: fixture('gemini-text.sse') }],
  retry: [
    { kind: 'http', status: 500, body: fixture('gemini-500.json') },
    { kind: 'http', status: 500, body: fixture('gemini-500.json') },
    { kind: 'sse', body: fixture('gemini-text.sse') },
  ],
};

if (CONTRACT_TEXT !== 'Hello from the contract suite.' || CONTRACT_ENTITY.city !== 'Montreal')
  throw new Error('the transcripts follow the contract constants');

/** Gemini contents as the contract's role/content pairs (with the system instruction first). */
function asMessages(body: Record<string, unknown>): { role: string; content: unknown }[] {
  const config = body['generationConfig'] as Record<string, unknown> | undefined;
  const system = (body['systemInstruction'] ?? config?.['systemInstruction']) as
    { parts?: { text?: string }[] } | undefined;
  const contents = (body['contents'] as { role: string; parts: { text?: string }[] }[] | undefined) ?? [];
  return [
    ...(system ? [{ role: 'system', content: system.parts?.map((p) => p.text).join('') }] : []),
    ...contents.map((c) => ({
      role: c.role === 'model' ? 'assistant' : c.role,
      content: c.parts.map((p) => p.text ?? '').join(''),
    })),
  ];
}

/** The `inlineData` parts of the last user turn the Gemini server received, as the contract's images. */
function inlineImages(body: Record<string, unknown>): ChatImagePart[] | undefined {
  const contents = body['contents'] as
    { role: string; parts: { inlineData?: { mimeType: string; data: string } }[] }[] | undefined;
  const user = contents?.findLast((c) => c.role === 'user');
  return user?.parts.flatMap((p) =>
    p.inlineData
      ? [
          {
            type: 'image',
            mediaType: p.inlineData.mimeType as ChatImagePart['mediaType'],
            data: p.inlineData.data,
          },
        ]
      : [],
  );
}

async function subject(scenario: ContractScenario | ContractCapabilityScenario): Promise<ContractSubject> {
  const server = await startGeminiServer();
  server.enqueue(...steps[scenario]);
  const apiKey = 'AIzaSy-contract-0000000000000000000';
  // One attempt of its own; in the retry scenario the prompt's retries come at once (a client with short delays).
  const retryOptions = { attempts: 1, initialDelay: 0.001, maxDelay: 0.001, jitter: 0 };
  const runtime = new GoogleGenAiRuntime({
    env: {},
    apiKey,
    ...(scenario === 'retry'
      ? { client: new GoogleGenAI({ apiKey, httpOptions: { baseUrl: server.baseUrl, retryOptions } }) }
      : { baseUrl: server.baseUrl, attempts: 1 }),
    // Thought summaries are asked for (and `reasoning-deltas` declared) in the reasoning scenario only.
    includeThoughts: scenario === 'reasoning',
  });
  return {
    runtime,
    lastRequest: () => {
      const body = server.requests.items.at(-1)?.body;
      return body ? asMessages(body) : undefined;
    },
    receivedImages: () => {
      const body = server.requests.items.at(-1)?.body;
      return body ? inlineImages(body) : undefined;
    },
    close: async () => {
      server.release();
      await server.close();
    },
  };
}

agentRuntimeContract({
  name: 'google-genai over a Gemini replay server',
  create: subject,
  createCapabilitySubject: subject,
});
