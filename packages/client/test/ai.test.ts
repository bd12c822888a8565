import { eventually, Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import {
  type ApprovalRequest,
  Atmosphere,
  type StreamingHandle,
  StreamingModel,
  subscribeStreaming,
} from '../src/index.ts';
import { type Fixture, startFixture } from './fixtures/fixture-server.ts';

let fixture: Fixture | undefined;
let handle: StreamingHandle | undefined;
afterEach(async () => {
  await handle?.close();
  handle = undefined;
  await fixture?.close();
  fixture = undefined;
});

function recordStream() {
  const log = new Inbox<string>(8_000);
  const approvals = new Inbox<ApprovalRequest>(8_000);
  const tokens: string[] = [];
  return {
    log,
    tokens,
    approvals,
    handlers: {
      onToken: (text: string) => {
        tokens.push(text);
        log.push(`token:${text}`);
      },
      onProgress: (message: string) => log.push(`progress:${message}`),
      onMetadata: (key: string, value: unknown) => log.push(`metadata:${key}=${String(value)}`),
      onEvent: (event: { event: string }) => log.push(`event:${event.event}`),
      onApprovalRequired: (approval: ApprovalRequest) => approvals.push(approval),
      onComplete: (summary: string | undefined) => log.push(`complete:${summary}`),
      onError: (message: string) => log.push(`error:${message}`),
    },
  };
}

describe.each(['websocket', 'sse', 'long-polling'] as const)('%s', (transport) => {
  test('a prompt streams metadata, progress, tokens and complete, in order, each once', async () => {
    fixture = await startFixture();
    const stream = recordStream();
    handle = subscribeStreaming(
      { url: fixture.url('/ai'), transport, fallbackTransport: [] },
      stream.handlers,
      { atmosphere: new Atmosphere() },
    );
    handle.send('hello there');
    await stream.log.waitFor((item) => item.startsWith('complete'));
    expect(stream.log.items).toEqual([
      'metadata:ai.model=fixture-model',
      expect.stringMatching(/^metadata:X-Atmosphere-Run-Id=run-s1-/),
      'progress:Thinking…',
      'token:You ',
      'token:said: ',
      'token:hello ',
      'token:there',
      'metadata:ai.tokens.total=4',
      'complete:ok',
    ]);
    expect(handle.sessionId).toMatch(/^s1-/);
  });

  test('stop() asks the server to stop the run; the stream ends "stopped" with the text so far', async () => {
    fixture = await startFixture();
    const stream = recordStream();
    const completions: (string | undefined)[] = [];
    handle = subscribeStreaming(
      { url: fixture.url('/ai'), transport, fallbackTransport: [] },
      {
        ...stream.handlers,
        onComplete: (summary, frame) => {
          completions.push(frame.type === 'complete' ? frame.reason : 'not complete');
          stream.handlers.onComplete(summary);
        },
      },
      { atmosphere: new Atmosphere() },
    );
    expect(handle.stop()).toBe(false);
    handle.send('slow:200');
    await eventually(() => stream.tokens.length >= 3 && handle!.runId !== undefined, 'three tokens');
    expect(handle.stop()).toBe(true);
    await stream.log.waitFor((item) => item.startsWith('complete'));
    expect(completions).toEqual(['stopped']);
    expect(stream.tokens.length).toBeLessThan(200);
    expect(stream.tokens.join('')).toBe(
      Array.from({ length: stream.tokens.length }, (_, i) => `t${i + 1} `).join(''),
    );
    expect(handle.runId).toBeUndefined();
    expect(handle.stop()).toBe(false);
  });

  test('a stream cut in the middle resumes: every token once, in order', async () => {
    fixture = await startFixture();
    const stream = recordStream();
    handle = subscribeStreaming(
      { url: fixture.url('/ai'), transport, fallbackTransport: [], reconnectInterval: 20 },
      stream.handlers,
      { atmosphere: new Atmosphere() },
    );
    const reopened = new Inbox<string>(8_000);
    handle.subscription.on('reopen', (event) => reopened.push(event.transport));
    handle.send('slow:40');
    await eventually(() => stream.tokens.length >= 10, 'ten tokens');
    expect(fixture.cut()).toBeGreaterThan(0);
    expect(await reopened.next()).toBe(transport);
    await stream.log.waitFor((item) => item.startsWith('complete'));
    expect(stream.tokens.join('')).toBe(Array.from({ length: 40 }, (_, i) => `t${i + 1} `).join(''));
    expect(stream.log.items.filter((item) => item.startsWith('complete'))).toEqual(['complete:done']);
  });
});

test('tool approval: approve with edited arguments sends /__approval/<id>/approve {"arguments":…}', async () => {
  fixture = await startFixture();
  const stream = recordStream();
  handle = subscribeStreaming({ url: fixture.url('/ai') }, stream.handlers, { atmosphere: new Atmosphere() });
  handle.send('what is the weather?');
  const approval = await stream.approvals.next();
  expect(approval).toMatchObject({
    toolName: 'weather',
    arguments: { city: 'Montreal' },
    message: 'Check the weather?',
    expiresIn: 300,
  });
  approval.approve({ city: 'Paris' });
  await stream.log.waitFor((item) => item.startsWith('complete'));
  expect(fixture.approvals).toEqual([
    `/__approval/${approval.approvalId}/approve {"arguments":{"city":"Paris"}}`,
  ]);
  expect(stream.log.items.filter((item) => item.startsWith('event:'))).toEqual([
    'event:tool-start',
    'event:approval-required',
    'event:approval-answered',
    'event:tool-result',
  ]);
  expect(stream.tokens.join('')).toBe('Weather tool approved {"arguments":{"city":"Paris"}}.');
});

test('tool approval: deny', async () => {
  fixture = await startFixture();
  const stream = recordStream();
  handle = subscribeStreaming({ url: fixture.url('/ai'), transport: 'sse' }, stream.handlers, {
    atmosphere: new Atmosphere(),
  });
  handle.send('weather please');
  const approval = await stream.approvals.next();
  handle.deny(approval.approvalId);
  await stream.log.waitFor((item) => item.startsWith('complete'));
  expect(fixture.approvals).toEqual([`/__approval/${approval.approvalId}/deny`]);
  expect(stream.tokens.join('')).toBe('Weather tool denied.');
});

test('an error frame ends the session with onError; the next prompt is a new session', async () => {
  fixture = await startFixture();
  const stream = recordStream();
  handle = subscribeStreaming({ url: fixture.url('/ai') }, stream.handlers, { atmosphere: new Atmosphere() });
  handle.send('fail');
  await stream.log.waitFor((item) => item.startsWith('error:'));
  expect(stream.log.items.at(-1)).toBe('error:The model is unavailable.');
  const first = handle.sessionId;
  handle.send('again');
  await stream.log.waitFor((item) => item.startsWith('complete'));
  expect(handle.sessionId).not.toBe(first);
  // Both sessions start at seq 1: deduplication is per session, so the second one is not dropped.
  expect(stream.tokens.join('')).toBe('Partial You said: again');
});

test('an approval the server decided (a timeout, another tab) leaves the approvals: it is not offered any more', async () => {
  fixture = await startFixture();
  const answered: [string, boolean][] = [];
  const stream = recordStream();
  handle = subscribeStreaming(
    { url: fixture.url('/ai'), transport: 'sse' },
    { ...stream.handlers, onApprovalAnswered: (id, approved) => answered.push([id, approved]) },
    { atmosphere: new Atmosphere() },
  );
  handle.send('weather, but let it expire');
  const approval = await stream.approvals.next();
  await stream.log.waitFor((item) => item.startsWith('complete'));
  expect(answered).toEqual([[approval.approvalId, false]]);
  expect(fixture.approvals).toEqual([]);

  // The state of useStreaming / useChat: the approval appears, then leaves when the decision arrives.
  const model = new StreamingModel({
    request: { url: fixture.url('/ai'), transport: 'websocket' },
    atmosphere: new Atmosphere(),
  });
  const seen: number[] = [];
  const off = model.subscribe(() => seen.push(model.getSnapshot().approvals.length));
  model.connect();
  await eventually(() => model.getSnapshot().connectionState === 'connected', 'connected');
  model.send('weather, but let it expire');
  await eventually(() => model.getSnapshot().stats !== null, 'the answer ended');
  expect(seen).toContain(1);
  expect(model.getSnapshot().approvals).toEqual([]);
  off();
  model.disconnect();
});
