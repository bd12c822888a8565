import { GoogleGenAiRuntime } from '@atmosphere/adapter-google-genai';
import { LangChainRuntime, streamRunnable } from '@atmosphere/adapter-langchain';
import { aiEndpoint, type AiEndpointHandle } from '@atmosphere/ai';
import { type Atmosphere, createAtmosphere, type Logger } from '@atmosphere/runtime';
import { fakeGeminiClient, langChainModel, weatherGraph } from './models.ts';

/** Options of {@link startAdapters}. */
export interface AdaptersOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where OPENAI_API_KEY and GEMINI_API_KEY are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
}

/** The running sample: three AI endpoints on one Atmosphere. */
export interface AdaptersSample {
  readonly atmosphere: Atmosphere;
  /** `/ai/langchain`, `/ai/langgraph`, `/ai/gemini`. */
  readonly endpoints: Readonly<Record<'langchain' | 'langgraph' | 'gemini', AiEndpointHandle>>;
  /** Which model answers on each endpoint (real, or a fake and why). */
  readonly models: Readonly<Record<'langchain' | 'langgraph' | 'gemini', string>>;
  url(path: string): string;
  close(): Promise<void>;
}

/**
 * Starts the sample:
 * - `/ai/langchain`: a LangChain chat model as the endpoint's runtime (ChatOpenAI with OPENAI_API_KEY, else
 *   LangChain's FakeListChatModel);
 * - `/ai/langgraph`: a LangGraph agent streamed with `streamRunnable` (steps, tool events, progress);
 * - `/ai/gemini`: Gemini through `@google/genai` (GEMINI_API_KEY), else a stand-in client.
 */
export async function startAdapters(options: AdaptersOptions = {}): Promise<AdaptersSample> {
  const env = options.env ?? process.env;
  const atmosphere = await createAtmosphere({
    port: options.port ?? 8080,
    host: options.host ?? '127.0.0.1',
    autoload: false,
    env,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const openAi = Boolean(env['OPENAI_API_KEY']);
  const gemini = Boolean(env['GEMINI_API_KEY']);
  const langchain = aiEndpoint(atmosphere, {
    path: '/ai/langchain',
    systemPrompt: 'Answer briefly.',
    runtime: new LangChainRuntime({ model: langChainModel(env) }),
  });
  const langgraph = aiEndpoint(atmosphere, {
    path: '/ai/langgraph',
    runtime: new LangChainRuntime({ model: langChainModel(env) }),
    onPrompt: async (prompt, session) => {
      await streamRunnable(
        weatherGraph(env, prompt),
        { messages: [{ role: 'user', content: prompt }] },
        session,
      );
    },
  });
  const geminiEndpoint = aiEndpoint(atmosphere, {
    path: '/ai/gemini',
    systemPrompt: 'Answer briefly.',
    runtime: gemini
      ? new GoogleGenAiRuntime({ env })
      : new GoogleGenAiRuntime({ env: {}, client: fakeGeminiClient(), model: 'stand-in' }),
  });
  return {
    atmosphere,
    endpoints: { langchain, langgraph, gemini: geminiEndpoint },
    models: {
      langchain: openAi ? 'ChatOpenAI' : 'FakeListChatModel (set OPENAI_API_KEY for ChatOpenAI)',
      langgraph: openAi ? 'ChatOpenAI' : 'fakeModel() (set OPENAI_API_KEY for ChatOpenAI)',
      gemini: gemini ? 'Gemini' : 'a stand-in client (set GEMINI_API_KEY for Gemini)',
    },
    url: (path) => atmosphere.url(path),
    async close() {
      await langchain.close();
      await langgraph.close();
      await geminiEndpoint.close();
      await atmosphere.close();
    },
  };
}
