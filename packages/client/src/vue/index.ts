export { AtmosphereProvider, provideAtmosphere, useAtmosphereClient } from './provider.ts';
export {
  useAtmosphere,
  type UseAtmosphereOptions,
  useChat,
  type UseChatOptions,
  usePresence,
  useRoom,
  type UseRoomOptions,
  useStreaming,
  type UseStreamingOptions,
} from './composables.ts';
export { refsOf, type SnapshotRefs, useModel } from './use-model.ts';
