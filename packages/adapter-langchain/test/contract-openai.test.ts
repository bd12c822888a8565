import {
  agentRuntimeContract,
  contractOpenAiSteps,
  CONTRACT_ENTITY,
  type ContractCapabilityScenario,
  type ContractScenario,
  type ContractSubject,
  openAiReceivedImages,
  openAiReceivedPromptCache,
  startReplayServer,
} from '@atmosphere/ai/testing';
import { LangChainRuntime } from '../src/index.ts';
import { chatOpenAi } from './helpers.ts';

// Real OpenAI chat-completions streams, replayed by a local server, flowing through @langchain/openai.
const steps = contractOpenAiSteps();

if (CONTRACT_ENTITY.city !== 'Montreal')
  throw new Error('the transcripts above follow the contract constants');

async function subject(scenario: ContractScenario | ContractCapabilityScenario): Promise<ContractSubject> {
  const server = await startReplayServer(steps[scenario]);
  return {
    runtime: new LangChainRuntime({ model: chatOpenAi(server.baseUrl) }),
    lastRequest: () => {
      const body = server.requests.items.at(-1)?.body;
      return body?.['messages'] as { role: string; content: unknown }[] | undefined;
    },
    receivedImages: () => openAiReceivedImages(server.requests.items.at(-1)?.body),
    receivedPromptCache: () => openAiReceivedPromptCache(server.requests.items.at(-1)?.body),
    close: () => server.close(),
  };
}

agentRuntimeContract({
  name: 'langchain over ChatOpenAI and a replay server',
  create: subject,
  // `reasoning_content` deltas (DeepSeek's wire format) reach LangChain as `additional_kwargs.reasoning_content`.
  createCapabilitySubject: subject,
});
