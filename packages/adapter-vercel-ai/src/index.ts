/**
 * `@atmosphere/adapter-vercel-ai`: the Vercel AI SDK on the server side of Atmosphere — any AI SDK
 * `LanguageModel` as an Atmosphere agent runtime (`vercelAiRuntime`), AI SDK tools through Atmosphere's approval
 * gate (`aiSdkTools`), and an endpoint that answers the SDK's stock `DefaultChatTransport`
 * (`uiMessageStreamEndpoint`). The browser side, a `ChatTransport` for `useChat` over Atmosphere's transports,
 * is `@atmosphere/adapter-vercel-ai/chat`.
 */
export type { PromptCacheForm } from './runtime/prompt-cache.ts';
export { MODEL_ENV, vercelAiRuntimeFromEnvironment, vercelAiRuntimeProvider } from './provider.ts';
export { aiSdkTools } from './runtime/tools.ts';
export {
  TOOL_CALL_END_KEY,
  TOOL_CALL_START_KEY,
  VercelAiRuntime,
  vercelAiRuntime,
  type VercelAiRuntimeOptions,
} from './runtime/vercel-ai-runtime.ts';
export {
  type UiMessageStreamEndpoint,
  uiMessageStreamEndpoint,
  type UiMessageStreamEndpointOptions,
} from './server/ui-message-stream-endpoint.ts';
