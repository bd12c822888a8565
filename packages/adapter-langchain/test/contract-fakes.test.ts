import {
  agentRuntimeContract,
  CONTRACT_ENTITY,
  CONTRACT_REASONING,
  CONTRACT_TEXT,
  type ContractScenario,
  type ContractSubject,
  openAiReceivedImages,
} from '@atmosphere/ai/testing';
import { AIMessage, AIMessageChunk } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { FakeListChatModel, FakeStreamingChatModel } from '@langchain/core/utils/testing';
import { LangChainRuntime } from '../src/index.ts';
import { recordingCallbacks } from './helpers.ts';

// LangChain's own test models, one per scenario: FakeListChatModel streams its answer character by
// character; fakeModel() answers with tool calls, then text; FakeStreamingChatModel fails as told.
function subject(scenario: ContractScenario): ContractSubject {
  const recording = recordingCallbacks();
  const callbacks = recording.callbacks;
  switch (scenario) {
    case 'text':
      return {
        runtime: new LangChainRuntime({
          model: new FakeListChatModel({ responses: [CONTRACT_TEXT], callbacks }),
        }),
        lastRequest: recording.last,
      };
    case 'tool-call': {
      const model = fakeModel()
        .respondWithTools([{ name: 'contract_echo', args: { value: 'ping' }, id: 'call_fake1' }])
        .respond(new AIMessage('The echo said pong.'));
      return { runtime: new LangChainRuntime({ model }) };
    }
    case 'structured':
      return {
        runtime: new LangChainRuntime({
          model: new FakeListChatModel({ responses: [JSON.stringify(CONTRACT_ENTITY)] }),
        }),
      };
    case 'error':
      return {
        runtime: new LangChainRuntime({
          model: new FakeStreamingChatModel({ thrownErrorString: 'The fake model refuses this request.' }),
        }),
      };
    case 'slow':
      return {
        runtime: new LangChainRuntime({
          model: new FakeListChatModel({ responses: ['word '.repeat(2_000)], sleep: 10 }),
        }),
      };
  }
}

// Reasoning as LangChain's standard content blocks, streamed before the text.
function reasoningSubject(): ContractSubject {
  const reasoning = CONTRACT_REASONING.split(/(?<=;)/);
  const chunks = [
    ...reasoning.map((piece) => new AIMessageChunk({ content: [{ type: 'reasoning', reasoning: piece }] })),
    ...CONTRACT_TEXT.split(/(?= )/).map((piece) => new AIMessageChunk({ content: piece })),
  ];
  return { runtime: new LangChainRuntime({ model: new FakeStreamingChatModel({ chunks }) }) };
}

// The prompt with an image, to a fake model that records what it was called with: the image blocks it got.
function visionSubject(): ContractSubject {
  const recording = recordingCallbacks();
  return {
    runtime: new LangChainRuntime({
      model: new FakeListChatModel({ responses: [CONTRACT_TEXT], callbacks: recording.callbacks }),
    }),
    lastRequest: recording.last,
    // LangChain hands callbacks the message with its data blocks in the OpenAI form (`image_url` data URLs).
    receivedImages: () => {
      const content = recording.calls.at(-1)?.at(-1)?.content;
      return openAiReceivedImages({ messages: [{ role: 'user', content }] });
    },
  };
}

agentRuntimeContract({
  name: 'langchain over LangChain fake models',
  create: subject,
  createCapabilitySubject: (scenario) => {
    switch (scenario) {
      case 'reasoning':
        return reasoningSubject();
      case 'vision':
        return visionSubject();
      case 'retry':
        return undefined; // not declared: a LangChain model's retries are its own
      case 'prompt-caching':
        return undefined; // not declared: a fake model takes no cache key
    }
  },
});
