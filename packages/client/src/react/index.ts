export { AtmosphereProvider, type AtmosphereProviderProps, useAtmosphereClient } from './provider.ts';
export {
  useAtmosphere,
  type UseAtmosphereOptions,
  type UseAtmosphereResult,
  useChat,
  type UseChatOptions,
  type UseChatResult,
  usePresence,
  useRoom,
  type UseRoomOptions,
  type UseRoomResult,
  useStreaming,
  type UseStreamingOptions,
  type UseStreamingResult,
} from './hooks.ts';
