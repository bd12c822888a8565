import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { connectTestClient } from '@atmosphere/runtime/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startChat } from '../src/server.ts';
import { tracingExporter } from '../src/telemetry.ts';

/** An attribute of an OTLP/JSON span or resource, as the exporter writes it. */
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? [])
    out[key] = value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue;
  return out;
}

/** A local OTLP/HTTP receiver: keeps every export request's JSON body. */
let receiver: Server;
const exports: { path: string; contentType: string | undefined; body: OtlpExport }[] = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atmosphere-chat-tracing-'));
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      exports.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport,
      });
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('OpenTelemetry in the chat sample', () => {
  test('where traces go, from the standard variables', () => {
    expect(tracingExporter({})).toBeUndefined();
    expect(
      tracingExporter({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }),
    ).toBeUndefined();
    expect(tracingExporter({ OTEL_TRACES_EXPORTER: 'console' })).toEqual({ exporter: 'console' });
    expect(tracingExporter({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toEqual({
      exporter: 'otlp',
      url: 'http://collector:4318/v1/traces',
    });
    expect(
      tracingExporter({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom',
      }),
    ).toEqual({ exporter: 'otlp', url: 'http://traces:4318/custom' });
    expect(tracingExporter({ OTEL_TRACES_EXPORTER: 'otlp' })).toEqual({
      exporter: 'otlp',
      url: 'http://localhost:4318/v1/traces',
    });
    expect(() => tracingExporter({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/otlp .*console or none/);
    expect(() => tracingExporter({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/not a URL/);
  });

  test('without the variables no SDK starts', async () => {
    const chat = await startChat({
      port: 0,
      logger: silentLogger,
      env: {},
      durable: false,
      runtime: demoRuntime({ delayMs: 1 }),
    });
    try {
      expect(chat.tracing).toBeUndefined();
      expect(chat.atmosphere.describe().providers.find((p) => p.kind === 'tracing')?.winner).toBe('none');
    } finally {
      await chat.close();
    }
  });

  test('with OTEL_EXPORTER_OTLP_ENDPOINT, the spans of a broadcast and an AI run reach the OTLP/HTTP receiver', async () => {
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const chat = await startChat({
      port: 0,
      logger: silentLogger,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'chat-under-test' },
      durable: join(dir, 'chat.sqlite'),
      runtime: demoRuntime({ delayMs: 1, answer: () => 'traced answer' }),
    });
    expect(chat.tracing?.destination).toEqual({ exporter: 'otlp', url: `${endpoint}/v1/traces` });
    expect(chat.atmosphere.describe().providers.find((p) => p.kind === 'tracing')?.winner).toBe(
      'opentelemetry',
    );
    const client = await connectTestClient(new URL('rooms', chat.url).toString(), 'websocket');
    try {
      await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'dave' }));
      await client.messages.waitFor((m) => m.includes('join_ack'), 10_000);
      await client.send(
        JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: '@assistant hello' } }),
      );
      await client.messages.waitFor(
        (m) => m.includes('"from":"assistant"') && m.includes('complete'),
        10_000,
      );
    } finally {
      await client.close();
      // Closing flushes the batch of spans still buffered to the receiver.
      await chat.close();
    }

    expect(exports.length).toBeGreaterThan(0);
    for (const request of exports) {
      expect(request.path).toBe('/v1/traces');
      expect(request.contentType).toMatch(/^application\/json/);
    }
    const spans = exports.flatMap((request) =>
      request.body.resourceSpans.flatMap((resource) => {
        expect(attributes(resource.resource?.attributes)['service.name']).toBe('chat-under-test');
        return resource.scopeSpans.flatMap((scope) => scope.spans);
      }),
    );
    const names = new Set(spans.map((span) => span.name));
    expect(names).toContain('atmosphere.connect');
    expect(names).toContain('atmosphere.message');

    // The broadcast of dave's message to the room.
    const broadcasts = spans.filter(
      (span) =>
        span.name === 'atmosphere.broadcast' && attributes(span.attributes)['atmosphere.room'] === 'lobby',
    );
    expect(broadcasts.length).toBeGreaterThan(0);
    // A room broadcast that reached dave (the message before he left).
    expect(broadcasts.some((span) => attributes(span.attributes)['atmosphere.fanout'] === 1)).toBe(true);

    // The assistant's answer: one GenAI run span with the demo runtime's attributes.
    const runs = spans.filter((span) => span.name.startsWith('chat '));
    expect(runs).toHaveLength(1);
    const run = attributes(runs[0]!.attributes);
    expect(run['gen_ai.operation.name']).toBe('chat');
    expect(run['gen_ai.provider.name']).toBe('demo');
    expect(typeof run['atmosphere.ai.run_id']).toBe('string');
  });
});
