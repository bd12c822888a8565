import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  agentRuntimeContract,
  type ContractCapabilityScenario,
  contractOpenAiSteps,
  type ContractScenario,
  type ContractSubject,
  openAiReceivedImages,
  openAiReceivedPromptCache,
  startReplayServer,
} from '@atmosphere/ai/testing';
import { vercelAiRuntime } from '../src/index.ts';

// The same transcripts as the built-in runtime's contract run: the OpenAI chat-completions wire format,
// replayed by a local server, read by the AI SDK's own openai-compatible provider.
const steps = contractOpenAiSteps();

async function subject(scenario: ContractScenario | ContractCapabilityScenario): Promise<ContractSubject> {
  const server = await startReplayServer(steps[scenario]);
  const provider = createOpenAICompatible({
    name: 'replay',
    baseURL: server.baseUrl,
    apiKey: 'sk-contract',
    includeUsage: true,
    supportsStructuredOutputs: true,
  });
  return {
    runtime: vercelAiRuntime({
      model: provider.chatModel('gpt-4o-mini'),
      maxRetries: 0,
      // The provider's id (`replay.chat`) names no form: the hint goes in the body, as OpenAI's fields.
      promptCache: 'openai-compatible',
    }),
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
  name: 'vercel-ai over @ai-sdk/openai-compatible and a replay server',
  create: subject,
  createCapabilitySubject: subject,
});
