import {
  agentRuntimeContract,
  CONTRACT_REASONING,
  CONTRACT_TEXT,
  type ContractCapabilityScenario,
  type ContractScenario,
} from '@atmosphere/ai/testing';
import { vercelAiRuntime } from '../src/index.ts';
import {
  badRequest,
  lastCacheBreakpoints,
  lastImages,
  lastPrompt,
  type MockAnswer,
  scriptedModel,
  serverError,
} from './mock-models.ts';

const scripts: Record<ContractScenario, (MockAnswer | Error)[]> = {
  text: [{ text: ['Hello', ' from the', ' contract', ' suite.'], usage: [12, 6] }],
  'tool-call': [
    { toolCalls: [{ id: 'call_contract1', name: 'contract_echo', input: ['{"va', 'lue":', '"ping"}'] }] },
    { text: ['The echo', ' said pong.'] },
  ],
  structured: [{ text: ['{"city":"Mont', 'real","cel', 'sius":21}'] }],
  error: [badRequest()],
  slow: [{ text: Array.from({ length: 500 }, (_, i) => `word${i} `), delayMs: 20 }],
};

const capabilityScripts: Record<ContractCapabilityScenario, (MockAnswer | Error)[]> = {
  reasoning: [
    {
      reasoning: [CONTRACT_REASONING.slice(0, 20), CONTRACT_REASONING.slice(20)],
      text: ['Hello from the', ' contract suite.'],
    },
  ],
  retry: [serverError(), serverError(), { text: ['Hello from the', ' contract suite.'] }],
  vision: [{ text: ['Hello from the', ' contract suite.'] }],
  'prompt-caching': [{ text: ['Hello from the', ' contract suite.'], usage: [2006, 6, 1920] }],
};

if (CONTRACT_TEXT !== 'Hello from the contract suite.')
  throw new Error('the scripts follow the contract text');

agentRuntimeContract({
  name: 'vercel-ai over the AI SDK test model (ai/test)',
  create(scenario) {
    const model = scriptedModel(scripts[scenario]);
    return { runtime: vercelAiRuntime({ model, maxRetries: 0 }), lastRequest: () => lastPrompt(model) };
  },
  createCapabilitySubject(scenario) {
    // No retries of the runtime's own: in the retry scenario, the prompt's policy is what retries.
    // An Anthropic model (by its provider id) in the prompt-caching scenario: the hint becomes cache breakpoints.
    const model = scriptedModel(
      capabilityScripts[scenario],
      scenario === 'prompt-caching' ? 'anthropic.messages' : 'mock',
    );
    return {
      runtime: vercelAiRuntime({ model, maxRetries: 0 }),
      lastRequest: () => lastPrompt(model),
      receivedImages: () => lastImages(model),
      receivedPromptCache: () => lastCacheBreakpoints(model),
    };
  },
});
