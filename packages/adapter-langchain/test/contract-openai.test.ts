import {
  agentRuntimeContract,
  contractOpenAiSteps,
  CONTRACT_ENTITY,
  startReplayServer,
} from '@atmosphere/ai/testing';
import { LangChainRuntime } from '../src/index.ts';
import { chatOpenAi } from './helpers.ts';

// Real OpenAI chat-completions streams, replayed by a local server, flowing through @langchain/openai.
const steps = contractOpenAiSteps();

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
