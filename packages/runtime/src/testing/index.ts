export {
  assertDelivery,
  type AttemptCounter,
  checkDelivery,
  countConnectionAttempts,
  type DeliveryRecord,
  type DeliveryReport,
  type FaultProxy,
  type ProcessSpec,
  startFaultProxy,
  superviseProcess,
  type SupervisedProcess,
} from './chaos.ts';
export { CHROMIUM_EXECUTABLE, CHROMIUM_LAUNCH_OPTIONS, hasChromium } from './chromium.ts';
export {
  connectTestClient,
  protocolUrl,
  type TestClient,
  type TestClientOptions,
  type TestTransport,
} from './clients.ts';
export { FrameReader } from './frame-reader.ts';
export { eventually, Inbox, once } from './inbox.ts';
export { startTestRedis, type TestRedis, type TestRedisOptions } from './redis-server.ts';
export { type Closable, TestScope } from './scope.ts';
export { dropConnection, recordingLogger, startForSelection, startTestAtmosphere } from './server.ts';
export { type LogWatch, watchedLog, type WatchedLogOptions } from './watched-log.ts';
