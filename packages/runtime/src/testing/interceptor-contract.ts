import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../atmosphere.ts';
import type { AtmosphereInterceptor } from '../spi/interceptor.ts';
import { connectTestClient, type TestClientOptions, type TestTransport } from './clients.ts';
import { startTestAtmosphere } from './server.ts';

/** How the contract suite gets the interceptor under test and the clients it accepts and refuses. */
export interface InterceptorContractOptions {
  /** A fresh interceptor. */
  create(): AtmosphereInterceptor | Promise<AtmosphereInterceptor>;
  /** What a client the interceptor accepts sends (credentials in headers or the query). Default: nothing. */
  readonly accepted?: TestClientOptions;
  /** A client the interceptor refuses, and the HTTP status it answers with (401, 403, 429…). */
  readonly refused?: { readonly options: TestClientOptions; readonly status: number };
  /**
   * Messages an accepted client sends, and what the handler receives for them (an interceptor may change or
   * drop inbound messages). Default: `['one', 'two', 'three']`, received as they are.
   */
  readonly inbound?: { readonly sent: readonly string[]; readonly received: readonly string[] };
  /** Transports to run on. Default: all four. */
  readonly transports?: readonly TestTransport[];
  /** Per-test timeout. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

const ALL_TRANSPORTS: readonly TestTransport[] = ['websocket', 'sse', 'streaming', 'long-polling'];

/**
 * The contract of an interceptor (`AtmosphereInterceptor`), as a vitest `describe` block, run on a real
 * server over every transport: the interceptor has a name; an accepted client connects, its messages reach
 * the handler as documented and in order, and the server's answers reach it; a refused client gets the
 * declared HTTP status before anything is served (WebSocket: the upgrade is refused) and the server stays up
 * for the next client; an inbound binary message gets a valid decision, never an exception.
 */
export function interceptorContract(name: string, options: InterceptorContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;
  const transports = options.transports ?? ALL_TRANSPORTS;
  const inbound = options.inbound ?? { sent: ['one', 'two', 'three'], received: ['one', 'two', 'three'] };

  describe(`${name}: interceptor contract`, () => {
    let atmosphere: Atmosphere;
    let interceptor: AtmosphereInterceptor;
    const received = new Map<string, string[]>();
    beforeAll(async () => {
      interceptor = await options.create();
      atmosphere = await startTestAtmosphere({ interceptors: [interceptor] });
      atmosphere.managed(
        '/interceptor-contract',
        {
          async onMessage(message, resource, context) {
            const list = received.get(resource.id) ?? [];
            list.push(String(message));
            received.set(resource.id, list);
            await context.broadcast(`echo:${String(message)}`, { to: resource });
          },
        },
        { codec: 'text' },
      );
    });
    afterAll(async () => {
      await atmosphere.close();
    });

    test('has a name', () => {
      expect(interceptor.name.length).toBeGreaterThan(0);
    });

    for (const transport of transports) {
      test(
        `${transport}: an accepted client connects; its messages reach the handler in order; answers reach it`,
        async () => {
          const client = await connectTestClient(
            atmosphere.url('/interceptor-contract'),
            transport,
            options.accepted ?? {},
          );
          for (const message of inbound.sent) await client.send(message);
          expect(await client.messages.take(inbound.received.length)).toEqual(
            inbound.received.map((message) => `echo:${message}`),
          );
          expect(received.get(client.trackingId)).toEqual(inbound.received);
          await client.close();
        },
        timeout,
      );

      const refused = options.refused;
      if (refused) {
        test(
          `${transport}: a refused client gets ${refused.status}; the server stays up for the next one`,
          async () => {
            await expect(
              connectTestClient(atmosphere.url('/interceptor-contract'), transport, refused.options),
            ).rejects.toThrow(String(refused.status));
            const client = await connectTestClient(
              atmosphere.url('/interceptor-contract'),
              transport,
              options.accepted ?? {},
            );
            await client.send(inbound.sent[0] ?? 'ping');
            expect(await client.messages.next()).toMatch(/^echo:/);
            await client.close();
          },
          timeout,
        );
      }
    }

    test(
      'an inbound binary message gets a valid decision (a payload or undefined), never an exception',
      async () => {
        const hook = interceptor.onInbound?.bind(interceptor);
        if (hook === undefined) {
          // Without an inbound hook there is no decision to check: the runtime passes the message on.
          expect(hook).toBeUndefined();
          return;
        }
        const client = await connectTestClient(
          atmosphere.url('/interceptor-contract'),
          'websocket',
          options.accepted ?? {},
        );
        const resource = atmosphere.resource(client.trackingId);
        expect(resource).toBeDefined();
        const result = await hook(new Uint8Array([0, 0xff, 0x7b]), resource!);
        expect(result === undefined || typeof result === 'string' || result instanceof Uint8Array).toBe(true);
        await client.close();
      },
      timeout,
    );
  });
}
