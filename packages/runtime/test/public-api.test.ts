import type { Server as HttpServer } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { type Atmosphere, type AtmosphereErrorCode, createAtmosphere } from '../src/index.ts';
import type {
  AppendOptions,
  AtmosphereResource,
  BroadcasterBackplane,
  StreamLog,
  StreamPosition,
} from '../src/spi/index.ts';

/**
 * The public surface of @atmosphere/runtime, pinned: a value export added or removed shows here in review (and
 * needs a changeset). Types are pinned by the expectTypeOf checks, which the typecheck runs.
 */
describe('@atmosphere/runtime public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'Atmosphere',
      'AtmosphereError',
      'DEFAULT_CACHE_LIMITS',
      'DEFAULT_MEMORY_LOG_LIMITS',
      'Disconnect',
      'Heartbeat',
      'ManagedService',
      'Message',
      'Ready',
      'VERSION',
      'authInterceptor',
      'consoleLogger',
      'createAtmosphere',
      'rateLimitInterceptor',
      'silentLogger',
    ]);
  });

  test('/spi exports exactly these values', async () => {
    expect(Object.keys(await import('../src/spi/index.ts')).sort()).toEqual([
      'BATCH_ENTRIES',
      'BATCH_PAYLOAD',
      'DEFAULT_BROADCAST_TIMING',
      'DEFAULT_CLUSTER_LEASE_MS',
      'DEFAULT_MEMORY_LOG_LIMITS',
      'DEFAULT_SESSION_LIMITS',
      'LocalBackplane',
      'MemoryClusterHub',
      'MemoryClusterState',
      'MemorySessionStore',
      'MemoryStreamLog',
      'NO_METRICS',
      'NO_TRACING',
      'ProviderRegistry',
      'SESSION_TOKEN_PATTERN',
      'WarningThrottle',
      'defineProvider',
      'isSessionToken',
      'mergeSessionData',
      'newSessionToken',
      'payloadSize',
      'registerProvider',
      'registry',
      'sessionLimits',
      'sessionRecord',
    ]);
  });

  test('/testing exports exactly these values', async () => {
    expect(Object.keys(await import('../src/testing/index.ts')).sort()).toEqual([
      'CHROMIUM_EXECUTABLE',
      'CHROMIUM_LAUNCH_OPTIONS',
      'FrameReader',
      'Inbox',
      'TestScope',
      'assertDelivery',
      'checkDelivery',
      'connectTestClient',
      'countConnectionAttempts',
      'dropConnection',
      'eventually',
      'hasChromium',
      'once',
      'protocolUrl',
      'recordingLogger',
      'startFaultProxy',
      'startForSelection',
      'startTestAtmosphere',
      'startTestRedis',
      'superviseProcess',
      'watchedLog',
    ]);
  });

  test('the framework entries export exactly these values', async () => {
    expect(Object.keys(await import('../src/integrations/express.ts')).sort()).toEqual(['listen']);
    expect(Object.keys(await import('../src/integrations/hono.ts')).sort()).toEqual(['listen']);
    expect(Object.keys(await import('../src/integrations/fastify.ts')).sort()).toEqual([
      'atmosphere',
      'default',
    ]);
    expect(Object.keys(await import('../src/integrations/next.ts')).sort()).toEqual([
      'listen',
      'routeAtmosphere',
      'routeHandlers',
    ]);
  });

  test('the types applications and implementers hold', () => {
    expectTypeOf(createAtmosphere).returns.toEqualTypeOf<Promise<Atmosphere>>();
    expectTypeOf<AtmosphereErrorCode>().toExtend<string>();
    expectTypeOf<'CONFLICT'>().toExtend<AtmosphereErrorCode>();
    expectTypeOf<'LOG_FAILED'>().toExtend<AtmosphereErrorCode>();
    expectTypeOf<'LOG_FENCED'>().toExtend<AtmosphereErrorCode>();
    expectTypeOf<'NOT_ATTACHED'>().toExtend<AtmosphereErrorCode>();
    expectTypeOf<Atmosphere['server']>().toEqualTypeOf<HttpServer | HttpsServer | Http2SecureServer>();
    expectTypeOf<StreamLog['append']>().returns.toEqualTypeOf<StreamPosition | Promise<StreamPosition>>();
    expectTypeOf<StreamLog['append']>().parameter(2).toEqualTypeOf<AppendOptions | undefined>();
    expectTypeOf<AppendOptions>().toHaveProperty('fence').toEqualTypeOf<number | undefined>();
    expectTypeOf<BroadcasterBackplane>().toHaveProperty('publish');
    expectTypeOf<AtmosphereResource>().toHaveProperty('id').toEqualTypeOf<string>();
  });
});
