import {
  agentRuntimeContract,
  CONTRACT_ENTITY,
  type ContractScenario,
  openAiErrorBody,
  openAiTranscript,
  type ReplayStep,
  startReplayServer,
} from '@atmosphere/ai/testing';
import { LangChainRuntime } from '../src/index.ts';
import { chatOpenAi } from './helpers.ts';

// Real OpenAI chat-completions streams, replayed by a local server, flowing through @langchain/openai.
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
    {
      kind: 'sse',
      body: openAiTranscript({
        text: ['{"city":"Mont', 'real","cel', 'sius":21}'],
        usage: { prompt: 40, completion: 9 },
      }),
    },
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

if (CONTRACT_ENTITY.city !== 'Montreal')
  throw new Error('the transcripts above follow the contract constants');

agentRuntimeContract({
  name: 'langchain over ChatOpenAI and a replay server',
  async create(scenario) {
    const server = await startReplayServer(steps[scenario]);
    return {
      runtime: new LangChainRuntime({ model: chatOpenAi(server.baseUrl) }),
      lastRequest: () => {
        const body = server.requests.items.at(-1)?.body;
        return body?.['messages'] as { role: string; content: unknown }[] | undefined;
      },
      close: () => server.close(),
    };
  },
});
