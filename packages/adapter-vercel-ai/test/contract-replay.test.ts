import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  agentRuntimeContract,
  type ContractScenario,
  openAiErrorBody,
  openAiTranscript,
  type ReplayStep,
  startReplayServer,
} from '@atmosphere/ai/testing';
import { vercelAiRuntime } from '../src/index.ts';

// The same transcripts as the built-in runtime's contract run: the OpenAI chat-completions wire format,
// replayed by a local server, read by the AI SDK's own openai-compatible provider.
const steps: Record<ContractScenario, ReplayStep[]> = {
  text: [
    {
      kind: 'sse',
      body: openAiTranscript({
        text: ['Hello', ' from the', ' contract', ' suite.'],
        usage: { prompt: 12, completion: 6 },
      }),
    },
  ],
  'tool-call': [
    {
      kind: 'sse',
      body: openAiTranscript({
        toolCalls: [{ id: 'call_contract1', name: 'contract_echo', arguments: ['{"va', 'lue":', '"ping"}'] }],
        usage: { prompt: 30, completion: 9 },
      }),
    },
    {
      kind: 'sse',
      body: openAiTranscript({ text: ['The echo', ' said pong.'], usage: { prompt: 50, completion: 5 } }),
    },
  ],
  structured: [
    { kind: 'sse', body: openAiTranscript({ text: ['{"city":"Mont', 'real","cel', 'sius":21}'] }) },
  ],
  error: [
    {
      kind: 'http',
      status: 400,
      body: openAiErrorBody("Invalid value for 'model'.", 'invalid_request_error'),
    },
  ],
  slow: [
    {
      kind: 'sse',
      body: openAiTranscript({ text: Array.from({ length: 500 }, (_, i) => `word${i} `) }),
      delayMs: 20,
      pauseAfter: 3,
    },
  ],
};

agentRuntimeContract({
  name: 'vercel-ai over @ai-sdk/openai-compatible and a replay server',
  async create(scenario) {
    const server = await startReplayServer(steps[scenario]);
    const provider = createOpenAICompatible({
      name: 'replay',
      baseURL: server.baseUrl,
      apiKey: 'sk-contract',
      includeUsage: true,
      supportsStructuredOutputs: true,
    });
    return {
      runtime: vercelAiRuntime({ model: provider.chatModel('gpt-4o-mini'), maxRetries: 0 }),
      lastRequest: () => {
        const body = server.requests.items.at(-1)?.body;
        return body?.['messages'] as { role: string; content: unknown }[] | undefined;
      },
      close: () => server.close(),
    };
  },
});
