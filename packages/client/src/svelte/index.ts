export { getAtmosphereContext, setAtmosphereContext } from './context.ts';
export {
  createAtmosphereStore,
  createChatStore,
  createPresenceStore,
  createRoomStore,
  createStreamingStore,
  type Readable,
} from './stores.ts';
export type {
  UseAtmosphereOptions,
  UseChatOptions,
  UseRoomOptions,
  UseStreamingOptions,
} from '../models/options.ts';
