/**
 * `@atmosphere/ai/testing`: the AgentRuntime and ConversationMemory contract suites, a replay server speaking the OpenAI
 * chat-completions wire format, transcript builders, and protocol clients for AI endpoints.
 */
export { connectAiClient, type AiTestClient, wrapAiClient } from './ai-client.ts';
export { type AiAnswer, answerOf, isTerminalFrame } from './answers.ts';
export { type CollectedSession, collectingSession } from './collecting-session.ts';
/** What a run continued after a restart asks the model after its partial answer (tests assert the request). */
export { CONTINUE_INSTRUCTION } from '../pipeline/run-agent.ts';
export {
  conversationMemoryContract,
  type ConversationMemoryContractOptions,
} from './conversation-memory-contract.ts';
export {
  agentRuntimeContract,
  type AgentRuntimeContractOptions,
  CONTRACT_CACHED_INPUT_TOKENS,
  CONTRACT_ENTITY,
  CONTRACT_HISTORY,
  CONTRACT_IMAGE,
  CONTRACT_PROMPT_CACHE,
  CONTRACT_PROMPTS,
  CONTRACT_REASONING,
  CONTRACT_SYSTEM_PROMPT,
  CONTRACT_TEXT,
  type ContractCapabilityScenario,
  type ContractScenario,
  type ContractSubject,
  type ReceivedPromptCache,
} from './contract.ts';
export {
  type RecordedRequest,
  type ReplayServer,
  type ReplayStep,
  sseEvents,
  startReplayServer,
} from './replay-server.ts';
export {
  contractOpenAiSteps,
  openAiErrorBody,
  openAiReceivedImages,
  openAiReceivedPromptCache,
  openAiTranscript,
  type TranscriptSpec,
} from './transcripts.ts';
export { weatherTool, type WeatherToolOptions } from './weather-tool.ts';
