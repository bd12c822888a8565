import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { aiSdkTools, uiMessageStreamEndpoint, vercelAiRuntime } from '@atmosphere/adapter-vercel-ai';
import { aiEndpoint } from '@atmosphere/ai';
import { createAtmosphere, type Logger } from '@atmosphere/runtime';
import { type LanguageModel, tool } from 'ai';
import { z } from 'zod';
import { demoLanguageModel } from './demo-model.ts';
import { buildPages, type PageFiles, servePage } from './pages.ts';

/** Options of {@link startAiSdkSample}. */
export interface AiSdkSampleOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where OPENAI_API_KEY / LLM_API_KEY, LLM_BASE_URL and LLM_MODEL are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** The model. Default: an OpenAI-compatible model when a key is set, else the demo model. */
  readonly model?: LanguageModel;
  /** The built page, when already built (tests build it once). */
  readonly pages?: PageFiles;
}

/** A running sample. */
export interface AiSdkSample {
  readonly url: string;
  /** `demo`, or the model id. */
  readonly model: string;
  /** Cities the weather tool was run for, in order (it runs only once approved). */
  readonly weatherCalls: readonly string[];
  close(): Promise<void>;
}

function modelFrom(env: Readonly<Record<string, string | undefined>>): LanguageModel {
  const apiKey = env['LLM_API_KEY'] || env['OPENAI_API_KEY'];
  if (!apiKey) return demoLanguageModel();
  const provider = createOpenAICompatible({
    name: 'llm',
    baseURL: env['LLM_BASE_URL'] || 'https://api.openai.com/v1',
    apiKey,
    includeUsage: true,
  });
  return provider.chatModel(env['LLM_MODEL'] || 'gpt-4o-mini');
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Starts the sample: the React page (`useChat` on `AtmosphereChatTransport`) at `/`, the Atmosphere AI endpoint
 * `/ai/chat` on the AI SDK runtime with a `weather` tool that asks for approval, and `/api/chat`, the same
 * endpoint for the SDK's stock `DefaultChatTransport` (the page's `?transport=default`).
 */
export async function startAiSdkSample(options: AiSdkSampleOptions = {}): Promise<AiSdkSample> {
  const pages = options.pages ?? (await buildPages());
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    if (servePage(pages, request, response)) return;
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('Not Found');
  });
  await listen(server, options.port ?? 8080, host);
  const atmosphere = await createAtmosphere({
    server,
    autoload: false,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const model = options.model ?? modelFrom(options.env ?? process.env);
  const weatherCalls: string[] = [];
  const endpoint = aiEndpoint(atmosphere, {
    path: '/ai/chat',
    runtime: vercelAiRuntime({ model }),
    systemPrompt: 'You are a helpful assistant. Answer briefly.',
    // useChat's chat id (sent as metadata) keys the conversation, so a reload keeps it.
    conversationId: (resource, metadata) =>
      typeof metadata['chatId'] === 'string' ? `chat:${metadata['chatId']}` : resource.id,
    tools: aiSdkTools({
      weather: tool({
        description: 'The current weather in a city.',
        inputSchema: z.object({ city: z.string() }),
        needsApproval: true,
        execute: ({ city }) => {
          weatherCalls.push(city);
          return { city, celsius: 21, sky: 'clear' };
        },
      }),
    }),
  });
  const http = uiMessageStreamEndpoint(atmosphere, { path: '/api/chat', endpoint: '/ai/chat' });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}/`,
    model: typeof model === 'string' ? model : model.modelId,
    weatherCalls,
    async close() {
      await http.close();
      await endpoint.close();
      await atmosphere.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
