import { openAiRuntime } from '../src/runtimes/openai/openai-runtime.ts';
import {
  agentRuntimeContract,
  contractOpenAiSteps,
  openAiReceivedImages,
  openAiReceivedPromptCache,
  CONTRACT_ENTITY,
  CONTRACT_TEXT,
  type ContractCapabilityScenario,
  type ContractScenario,
  type ContractSubject,
  startReplayServer,
} from '../src/testing/index.ts';

const steps = contractOpenAiSteps();

if (CONTRACT_TEXT !== 'Hello from the contract suite.' || CONTRACT_ENTITY.city !== 'Montreal')
  throw new Error('the transcripts above follow the contract constants');

async function subject(scenario: ContractScenario | ContractCapabilityScenario): Promise<ContractSubject> {
  const server = await startReplayServer(steps[scenario]);
  const runtime = openAiRuntime({
    env: {},
    apiKey: 'sk-contract',
    model: 'gpt-4o-mini',
    baseUrl: server.baseUrl,
    // No retries of its own (the error scenario fails at once); the retry scenario's come from the prompt.
    retry: { maxRetries: 0, baseDelayMs: 1 },
  });
  return {
    runtime,
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
  name: 'built-in (OpenAI-compatible) over a replay server',
  create: subject,
  createCapabilitySubject: subject,
});
