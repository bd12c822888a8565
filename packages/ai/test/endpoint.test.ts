import { parseRoleMessage, roleMessage } from '@atmosphere/protocol';
import type { BroadcastFilter } from '@atmosphere/runtime/spi';
import { eventually } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type { AiInterceptor } from '../src/pipeline/ai-interceptor.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { connectAiClient } from '../src/testing/index.ts';
import { type Harness, harness } from './helpers.ts';
import { sseStep, transcriptText } from './fixtures.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const echoRuntime = () => demoRuntime({ delayMs: 0, answer: (context) => `You said: ${context.message}` });

describe('aiEndpoint', () => {
  test.each(['websocket', 'sse', 'long-polling'] as const)(
    'a plain-text prompt over %s streams the answer to the asker',
    async (transport) => {
      h = await harness({ runtime: echoRuntime() });
      const client = await connectAiClient(h.url(), transport);
      await client.prompt('Hello there');
      const answer = await client.answer();
      expect(answer.frames[0]).toMatchObject({
        type: 'metadata',
        key: 'X-Atmosphere-Run-Id',
        value: answer.runId,
        seq: 1,
      });
      expect(answer.text).toBe('You said: Hello there');
      expect(answer.end).toMatchObject({ type: 'complete' });
      expect(answer.frames.map((f) => f.seq)).toEqual(answer.frames.map((_, i) => i + 1));
      await client.close();
    },
  );

  test('the JSON form carries the prompt and metadata; JSON without "prompt" is plain text', async () => {
    const seen: unknown[] = [];
    h = await harness({
      runtime: echoRuntime(),
      onPrompt: (prompt, session) => {
        seen.push([prompt, session.promptMetadata]);
        return session.stream();
      },
    });
    const client = await connectAiClient(h.url());
    await client.prompt(JSON.stringify({ prompt: '  What is Atmosphere?  ', metadata: { lang: 'fr' } }));
    expect((await client.answer()).text).toBe('You said: What is Atmosphere?');
    await client.prompt('{"question": "braces are fine"}');
    expect((await client.answer()).text).toBe('You said: {"question": "braces are fine"}');
    expect(seen).toEqual([
      ['What is Atmosphere?', { lang: 'fr' }],
      ['{"question": "braces are fine"}', {}],
    ]);
    await client.close();
  });

  test('bad input gets a clear error frame; the client and others carry on', async () => {
    h = await harness({ runtime: echoRuntime() });
    const client = await connectAiClient(h.url());
    const bystander = await connectAiClient(h.url());
    const errors: { code: string; data: string }[] = [];
    for (const bad of [
      '   ',
      'a'.repeat(1_000_000),
      '/__approval/0c1d2e3f/approve',
      '{"prompt": 42}',
      '{"prompt":"x","metadata":[1]}',
    ]) {
      await client.prompt(bad);
      const answer = await client.answer();
      expect(answer.frames).toHaveLength(1);
      errors.push({
        code: (answer.end as { code: string }).code,
        data: (answer.end as { data: string }).data,
      });
    }
    expect(errors).toEqual([
      { code: 'INVALID_PROMPT', data: 'The prompt is empty: send some text, or JSON {"prompt":"…"}.' },
      {
        code: 'INVALID_PROMPT',
        data: 'The prompt has 1000000 characters; the limit is 100000 (option maxPromptLength).',
      },
      {
        code: 'UNKNOWN_APPROVAL',
        data: 'No pending approval with this id for this client (it may have been answered already or have expired).',
      },
      { code: 'INVALID_PROMPT', data: 'The JSON prompt must have a string "prompt" member: {"prompt":"…"}.' },
      { code: 'INVALID_PROMPT', data: 'The JSON prompt\'s "metadata" must be an object.' },
    ]);
    await client.prompt('still here?');
    expect((await client.answer()).text).toBe('You said: still here?');
    await bystander.prompt('me too');
    const other = await bystander.answer();
    expect(other.text).toBe('You said: me too');
    expect(bystander.frames().every((f) => f.sessionId === other.sessionId)).toBe(true);
    await client.close();
    await bystander.close();
  });

  test('onPrompt may write its own frames; returning completes, throwing errors', async () => {
    h = await harness({
      runtime: echoRuntime(),
      onPrompt: (prompt, session) => {
        if (prompt === 'fail') throw new Error('The handler refused.');
        session.progress('Looking…');
        session.send('manual answer');
      },
    });
    const client = await connectAiClient(h.url());
    await client.prompt('hi');
    const ok = await client.answer();
    expect(ok.frames.map((f) => (f.type === 'event' ? f.event : f.type))).toEqual([
      'metadata',
      'progress',
      'streaming-text',
      'complete',
    ]);
    await client.prompt('fail');
    expect((await client.answer()).end).toMatchObject({
      type: 'error',
      data: 'The handler refused.',
      code: 'AI_FAILED',
    });
    await client.close();
  });

  test('interceptors: preProcess first to last, beforeCompletion and postProcess last to first', async () => {
    const calls: string[] = [];
    const interceptor = (name: string): AiInterceptor => ({
      name,
      preProcess(request) {
        calls.push(`pre:${name}`);
        return { ...request, message: `${request.message}+${name}` };
      },
      beforeCompletion(response, _request, { session }) {
        calls.push(`before:${name}:${response.text}`);
        session.emit({ event: 'citation', data: { source: name } });
      },
      postProcess(response) {
        calls.push(`post:${name}:${response.status}`);
      },
    });
    h = await harness({
      runtime: echoRuntime(),
      interceptors: [interceptor('A'), interceptor('B'), interceptor('C')],
    });
    const client = await connectAiClient(h.url());
    await client.prompt('q');
    const answer = await client.answer();
    expect(answer.text).toBe('You said: q+A+B+C');
    await eventually(() => calls.length === 9, 'postProcess');
    expect(calls).toEqual([
      'pre:A',
      'pre:B',
      'pre:C',
      'before:C:You said: q+A+B+C',
      'before:B:You said: q+A+B+C',
      'before:A:You said: q+A+B+C',
      'post:C:complete',
      'post:B:complete',
      'post:A:complete',
    ]);
    expect(answer.events('citation').map((c) => c.source)).toEqual(['C', 'B', 'A']);
    expect(answer.frames.at(-2)).toMatchObject({ event: 'citation' });
    await client.close();
  });

  test('a preProcess that throws refuses the prompt; postProcess still sees the error', async () => {
    const statuses: string[] = [];
    h = await harness({
      runtime: echoRuntime(),
      interceptors: [
        { postProcess: (response) => void statuses.push(response.status) },
        {
          preProcess: () => {
            throw new Error('Blocked by the guardrail.');
          },
        },
      ],
    });
    const client = await connectAiClient(h.url());
    await client.prompt('something bad');
    const answer = await client.answer();
    expect(answer.end).toMatchObject({ type: 'error', data: 'Blocked by the guardrail.' });
    expect(answer.text).toBe('');
    await eventually(() => statuses.length === 1, 'postProcess');
    expect(statuses).toEqual(['error']);
    await client.close();
  });

  test('conversation memory: the model gets the trimmed history of this client only', async () => {
    const steps = Array.from({ length: 5 }, () => sseStep('openai-text.sse'));
    h = await harness({ steps, maxHistoryMessages: 4, systemPrompt: 'Be brief.' });
    const client = await connectAiClient(h.url());
    for (const question of ['q1', 'q2', 'q3', 'q4']) {
      await client.prompt(question);
      await client.answer();
    }
    const other = await connectAiClient(h.url());
    await other.prompt('fresh');
    await other.answer();
    const answer = transcriptText('openai-text.sse');
    const sent = h.replay!.requests.items.map((r) =>
      (r.body!['messages'] as { role: string; content: string }[]).map((m) => `${m.role}:${m.content}`),
    );
    expect(sent).toEqual([
      ['system:Be brief.', 'user:q1'],
      ['system:Be brief.', 'user:q1', `assistant:${answer}`, 'user:q2'],
      ['system:Be brief.', 'user:q1', `assistant:${answer}`, 'user:q2', `assistant:${answer}`, 'user:q3'],
      ['system:Be brief.', 'user:q2', `assistant:${answer}`, 'user:q3', `assistant:${answer}`, 'user:q4'],
      ['system:Be brief.', 'user:fresh'],
    ]);
    await client.close();
    await other.close();
  });

  test('frames go through the broadcaster: a filter sees each frame once and can rewrite it', async () => {
    const seen: string[] = [];
    const redact: BroadcastFilter = {
      name: 'redact-city',
      filter(payload) {
        const text = typeof payload === 'string' ? payload : '';
        seen.push(text);
        return text.replaceAll('Montreal', '[city]');
      },
    };
    h = await harness({
      runtime: demoRuntime({ delayMs: 0, answer: () => 'Weather in Montreal is mild.' }),
      filters: [redact],
    });
    const first = await connectAiClient(h.url());
    const second = await connectAiClient(h.url());
    await first.prompt('weather?');
    const answer = await first.answer();
    expect(answer.text).toBe('Weather in [city] is mild.');
    // Each frame once, and the asker's role message (written to it alone, through the broadcaster too).
    expect(seen.filter((text) => parseRoleMessage(text) === undefined)).toHaveLength(answer.frames.length);
    expect(seen.filter((text) => parseRoleMessage(text) !== undefined)).toEqual([
      roleMessage(answer.runId!, 'owner'),
    ]);
    expect(second.frames()).toEqual([]);
    await first.close();
    await second.close();
  });

  test('the API key never reaches a client, even when the provider echoes it', async () => {
    const key = 'sk-test-harness-key-0123456789';
    h = await harness({
      steps: [
        {
          kind: 'http',
          status: 401,
          body: JSON.stringify({
            error: { message: `Incorrect API key provided: ${key}`, type: 'invalid_request_error' },
          }),
        },
      ],
    });
    const client = await connectAiClient(h.url(), 'sse');
    await client.prompt('hello');
    const answer = await client.answer();
    expect(answer.end).toMatchObject({ type: 'error', code: 'LLM_FAILED' });
    expect(JSON.stringify(client.client.messages.items)).not.toContain(key);
    expect(JSON.stringify(h.atmosphere.describe())).not.toContain(key);
    await client.close();
  });

  test('too many prompts at once are refused per client', async () => {
    h = await harness({
      runtime: demoRuntime({ delayMs: 50 }),
      whileAnswering: 'parallel',
      maxConcurrentPrompts: 1,
    });
    const client = await connectAiClient(h.url());
    await client.prompt('one');
    await client.waitFor((f) => 'type' in f && f.type === 'streaming-text');
    await client.prompt('two');
    const refused = await client.waitFor((f) => 'type' in f && f.type === 'error');
    expect(refused).toMatchObject({ code: 'TOO_MANY_PROMPTS' });
    await client.close();
  });

  test('startup refuses a runtime without a required capability, or no runtime at all', async () => {
    const { startTestAtmosphere } = await import('@atmosphere/runtime/testing');
    const { aiEndpoint } = await import('../src/endpoint/ai-endpoint.ts');
    const atmosphere = await startTestAtmosphere();
    try {
      expect(() =>
        aiEndpoint(atmosphere, {
          path: '/a',
          runtime: demoRuntime(),
          requires: ['structured-output', 'tool-calling'],
        }),
      ).toThrow('/a requires structured-output, which runtime demo does not have');
      expect(() => aiEndpoint(atmosphere, { path: '/b' })).toThrow(
        /No agent runtime for \/b: import '@atmosphere\/ai\/register'/,
      );
    } finally {
      await atmosphere.close();
    }
  });
});

describe('AiSession.stream', () => {
  test('a second stream() on the same session is refused instead of interleaving two answers', async () => {
    const outcomes: string[] = [];
    h = await harness({
      runtime: demoRuntime({ delayMs: 1, answer: () => 'one two three' }),
      onPrompt: async (prompt, session) => {
        const [first, second] = await Promise.all([session.stream(prompt), session.stream(prompt)]);
        outcomes.push(first.status, second.status, String((second.error as Error).message));
        outcomes.push((await session.stream()).status);
      },
    });
    const client = await connectAiClient(h.url());
    await client.prompt('go');
    const answer = await client.answer();
    expect(answer.text).toBe('one two three');
    await eventually(() => outcomes.length === 4, 'onPrompt');
    expect(outcomes).toEqual(['complete', 'error', 'stream() is already running for this session.', 'error']);
    await client.close();
  });
});
