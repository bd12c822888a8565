/**
 * `@atmosphere/adapter-vercel-ai/chat` (browser-safe): `useChat` from the AI SDK over Atmosphere's transports.
 * `new AtmosphereChatTransport({ url })` is a `ChatTransport` for `useChat({ transport })` in React, Vue or
 * Svelte; `UiChunkMapper` turns Atmosphere AI frames into the SDK's UI message chunks.
 */
export {
  AtmosphereChatTransport,
  type AtmosphereChatTransportOptions,
  type PromptBuilder,
  type RunStorage,
} from './atmosphere-chat-transport.ts';
export { UiChunkMapper } from './ui-chunks.ts';
