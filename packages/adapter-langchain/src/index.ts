/**
 * `@atmosphere/adapter-langchain`: LangChain for Atmosphere. Any LangChain chat model becomes an agent runtime
 * (`langChain({ model })`, priority 100), and `streamRunnable()` streams an existing runnable or compiled
 * LangGraph graph into a streaming session. Your framework generates tokens; Atmosphere delivers them.
 */
export {
  type EventStreamingRunnable,
  streamRunnable,
  type StreamRunnableOptions,
  type StreamRunnableResult,
} from './bridge.ts';
export {
  type GraphStreamMode,
  type ModeStreamingGraph,
  streamGraph,
  type StreamGraphOptions,
  type StreamGraphResult,
} from './graph-bridge.ts';
export { LANGCHAIN_CAPABILITY_RULES, LANGCHAIN_FEATURES } from './capabilities.ts';
export {
  detectCapabilities,
  LANGCHAIN_RUNTIME,
  LangChainRuntime,
  langChainRuntime,
  type LangChainRuntimeOptions,
} from './langchain-runtime.ts';
export { LANGCHAIN_MODEL_SETTING, langChain, langChainFromSettings } from './provider.ts';
