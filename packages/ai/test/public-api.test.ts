import { describe, expect, expectTypeOf, test } from 'vitest';
import type { AtmosphereErrorCode } from '@atmosphere/runtime';
import {
  type AiEndpointHandle,
  type AiEndpointOptions,
  aiEndpoint,
  type ModelPricing,
  type Pricing,
} from '../src/index.ts';
import type { AgentRuntime, ChatMessage, ChatPart, ConversationMemory } from '../src/spi/index.ts';

/**
 * The public surface of @atmosphere/ai, pinned: a value export added or removed shows here in review (and
 * needs a changeset). Types are pinned by the expectTypeOf checks, which the typecheck runs.
 */
describe('@atmosphere/ai public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'AiEndpoint',
      'DEFAULT_MODEL',
      'InMemoryConversationMemory',
      'LlmError',
      'OpenAiCompatibleRuntime',
      'Prompt',
      'agentRuntimeProvider',
      'aiEndpoint',
      'builtInRuntimeProvider',
      'createBroadcasterSession',
      'createResourceSession',
      'createStreamingSession',
      'demoRuntime',
      'demoRuntimeProvider',
      'inMemoryConversationMemoryProvider',
      'openAiRuntime',
      'resolveLlmConfig',
      'runAgent',
      'structuredOutput',
      'tool',
    ]);
  });

  test('/spi exports exactly these values', async () => {
    expect(Object.keys(await import('../src/spi/index.ts')).sort()).toEqual([
      'AGENT_CAPABILITIES',
      'LlmError',
      'addUsage',
      'aiError',
      'backoffDelay',
      'cancelledError',
      'createAgentContext',
      'describeError',
      'isAbortError',
      'redactSecrets',
      'retryAfterMs',
      'stoppedError',
    ]);
  });

  test('/testing exports exactly these values', async () => {
    expect(Object.keys(await import('../src/testing/index.ts')).sort()).toEqual([
      'CONTINUE_INSTRUCTION',
      'CONTRACT_CACHED_INPUT_TOKENS',
      'CONTRACT_ENTITY',
      'CONTRACT_HISTORY',
      'CONTRACT_IMAGE',
      'CONTRACT_PROMPTS',
      'CONTRACT_PROMPT_CACHE',
      'CONTRACT_REASONING',
      'CONTRACT_SYSTEM_PROMPT',
      'CONTRACT_TEXT',
      'agentRuntimeContract',
      'answerOf',
      'collectingSession',
      'connectAiClient',
      'contractOpenAiSteps',
      'conversationMemoryContract',
      'isTerminalFrame',
      'openAiErrorBody',
      'openAiReceivedImages',
      'openAiReceivedPromptCache',
      'openAiTranscript',
      'sseEvents',
      'startReplayServer',
      'weatherTool',
      'wrapAiClient',
    ]);
  });

  test('/rooms exports exactly these values', async () => {
    expect(Object.keys(await import('../src/rooms/index.ts')).sort()).toEqual([
      'LlmRoomMember',
      'REPLY_TO_METADATA_KEY',
      'isMentioned',
      'llmRoomMember',
      'roomMessageText',
      'stripMentions',
    ]);
  });

  test('the types applications and implementers hold', () => {
    expectTypeOf(aiEndpoint).returns.toEqualTypeOf<AiEndpointHandle>();
    expectTypeOf<Pricing[string]>().toEqualTypeOf<ModelPricing>();
    expectTypeOf<AiEndpointOptions['pricing']>().toEqualTypeOf<Pricing | undefined>();
    expectTypeOf<AgentRuntime>().toHaveProperty('capabilities');
    expectTypeOf<ConversationMemory['history']>().returns.toEqualTypeOf<Promise<ChatMessage[]>>();
    expectTypeOf<'INVALID_PROMPT'>().toExtend<AtmosphereErrorCode>();
    expectTypeOf<'INVALID_ATTACHMENT' | 'UNSUPPORTED_ATTACHMENT'>().toExtend<AtmosphereErrorCode>();
    expectTypeOf<ChatMessage['parts']>().toEqualTypeOf<readonly ChatPart[] | undefined>();
  });
});
