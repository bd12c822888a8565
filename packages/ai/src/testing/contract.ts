import { describe, expect, test } from 'vitest';
import { type AgentContextInput, createAgentContext } from '../pipeline/agent-context.ts';
import { runAgent } from '../pipeline/run-agent.ts';
import {
  AGENT_CAPABILITIES,
  type AgentCapability,
  type AgentRuntime,
  type PromptCacheHint,
} from '../spi/agent-runtime.ts';
import type { ChatImagePart, ChatMessage } from '../spi/chat.ts';
import type { AiEventFrame, AiFrame } from '@atmosphere/protocol';
import { structuredOutput } from '../structured/structured-output.ts';
import { ApprovalRegistry } from '../tools/approvals.ts';
import { tool } from '../tools/tool.ts';
import { type AiAnswer, answerOf, isTerminalFrame } from './answers.ts';
import { collectingSession } from './collecting-session.ts';

/**
 * What the model behind the runtime must do in each scenario (a replay transcript, a scripted fake model…):
 * - `text`: stream {@link CONTRACT_TEXT} in two or more chunks (with usage, if the runtime reports usage);
 * - `tool-call`: call `contract_echo` with `{"value":"ping"}` once, then answer with text containing the tool's
 *   result (`pong`);
 * - `structured`: answer with the JSON object {@link CONTRACT_ENTITY};
 * - `error`: fail with a non-retryable error;
 * - `slow`: stream text slowly, for far longer than the test waits (it is cancelled).
 */
export type ContractScenario = 'text' | 'tool-call' | 'structured' | 'error' | 'slow';

/**
 * Scenarios that pin one capability each, produced by `createCapabilitySubject` — required of a subject whose
 * runtime declares the capability (the test fails without it), never asked of one that does not:
 * - `reasoning` (`reasoning-deltas`): stream the reasoning {@link CONTRACT_REASONING} (in one or more pieces),
 *   then the answer {@link CONTRACT_TEXT};
 * - `retry` (`per-request-retry`): fail twice with a retryable error before the first token (HTTP 500 or 429),
 *   then stream {@link CONTRACT_TEXT}; the runtime's own retries off (the prompt's policy is what retries);
 * - `vision` (`vision`): answer {@link CONTRACT_TEXT} to the prompt with the image {@link CONTRACT_IMAGE}; the
 *   subject shows the images the model was given (`receivedImages`);
 * - `prompt-caching` (`prompt-caching`): answer {@link CONTRACT_TEXT} reporting
 *   {@link CONTRACT_CACHED_INPUT_TOKENS} of its input tokens as read from the provider's cache; the subject shows
 *   the caching hint the provider was given (`receivedPromptCache`).
 */
export type ContractCapabilityScenario = 'reasoning' | 'retry' | 'vision' | 'prompt-caching';
const CAPABILITY_SCENARIOS: ReadonlySet<string> = new Set<ContractCapabilityScenario>([
  'reasoning',
  'retry',
  'vision',
  'prompt-caching',
]);

export const CONTRACT_TEXT = 'Hello from the contract suite.';
/** The reasoning of the `reasoning` scenario (it comes before {@link CONTRACT_TEXT}). */
export const CONTRACT_REASONING = 'The suite asks for a greeting; a short one will do.';
export const CONTRACT_PROMPTS: Readonly<Record<ContractScenario | ContractCapabilityScenario, string>> = {
  text: 'Say hello to the contract suite.',
  'tool-call': 'Call contract_echo with value ping.',
  structured: 'Give the weather in Montreal as JSON.',
  error: 'This request fails.',
  slow: 'Tell a very long story.',
  reasoning: 'Think first, then say hello to the contract suite.',
  retry: 'Say hello to the contract suite, even if it takes a few tries.',
  vision: 'Say hello to the contract suite, and what colour this image is.',
  'prompt-caching': 'Say hello to the contract suite again, from the cache if you can.',
};
/** The caching hint of the `prompt-caching` scenario. */
export const CONTRACT_PROMPT_CACHE: PromptCacheHint = { key: 'atmosphere-contract-v1', retention: 'long' };
/** The input tokens the model reports as read from its cache in the `prompt-caching` scenario (of 2 006). */
export const CONTRACT_CACHED_INPUT_TOKENS = 1920;
/** The image of the `vision` scenario: a 2×2 red PNG (74 bytes). */
export const CONTRACT_IMAGE: ChatImagePart = {
  type: 'image',
  mediaType: 'image/png',
  data: 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEUlEQVR4nGP4z8DwnwGMgRQAH+4D/dJQfRoAAAAASUVORK5CYII=',
};
export const CONTRACT_ENTITY = { city: 'Montreal', celsius: 21 } as const;
export const CONTRACT_SYSTEM_PROMPT = 'You are the Atmosphere contract suite.';
export const CONTRACT_HISTORY: readonly ChatMessage[] = [
  { role: 'user', content: 'My name is Ada.' },
  { role: 'assistant', content: 'Hello Ada.' },
];

/** A runtime set up for one scenario. */
export interface ContractSubject {
  readonly runtime: AgentRuntime;
  /** The messages the model received in its last request, when the subject can observe them. */
  lastRequest?(): readonly { readonly role: string; readonly content: unknown }[] | undefined;
  /**
   * The images the model was given in its last request, read back from what it really received (the request
   * body the replay server got, decoded from the provider's form; the input a fake model was called with), in
   * order. Required of a subject whose runtime declares `vision`.
   */
  receivedImages?(): readonly ChatImagePart[] | undefined;
  /**
   * The caching hint the provider was given in the last request, read back from what it really received, or
   * undefined when it got none. Required of a subject whose runtime declares `prompt-caching`.
   */
  receivedPromptCache?(): ReceivedPromptCache | undefined;
  /** Releases what the scenario started (a replay server). */
  close?(): Promise<void>;
}

/**
 * A caching hint in the form a provider received it: a key (OpenAI's `prompt_cache_key`), the retention
 * (`prompt_cache_retention` `24h` or an Anthropic `ttl` of `1h` is `long`), and how many cache breakpoints the
 * messages carried (Anthropic's `cacheControl`).
 */
export interface ReceivedPromptCache {
  readonly key?: string | undefined;
  readonly retention?: 'short' | 'long' | undefined;
  readonly breakpoints?: number | undefined;
}

export interface AgentRuntimeContractOptions {
  /** The suite's title. Default: the runtime's name. */
  readonly name: string;
  /** A runtime whose model behaves as the scenario says; undefined when the subject cannot produce it. */
  create(scenario: ContractScenario): ContractSubject | undefined | Promise<ContractSubject | undefined>;
  /**
   * A runtime whose model behaves as a capability scenario says ({@link ContractCapabilityScenario}). Needed
   * for each capability the runtime declares that has one; absent (or undefined) when the subject cannot
   * produce it, which fails the capability's test if the runtime declares the capability.
   */
  createCapabilitySubject?(
    scenario: ContractCapabilityScenario,
  ): ContractSubject | undefined | Promise<ContractSubject | undefined>;
  /** Per-test timeout. Default 15 000 ms. */
  readonly timeoutMs?: number;
}

async function settle(promise: Promise<unknown>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

function checkSequence(frames: readonly AiFrame[]): void {
  expect(frames.map((f) => f.seq)).toEqual(frames.map((_, i) => i + 1));
  const terminals = frames.filter(isTerminalFrame);
  expect(terminals).toHaveLength(1);
  expect(frames.at(-1)).toBe(terminals[0]);
}

/** Runs one prompt to its end: the frames are in order, and the answer completes with {@link CONTRACT_TEXT}. */
async function answersContractText(
  runtime: AgentRuntime,
  input: Omit<AgentContextInput, 'session'>,
): Promise<AiAnswer> {
  const { session, frames } = collectingSession();
  await runtime.execute(createAgentContext({ ...input, session }), session, new AbortController().signal);
  checkSequence(frames.items);
  const answer = answerOf(frames.items, session.sessionId);
  expect(answer.end?.type).toBe('complete');
  expect(answer.text).toBe(CONTRACT_TEXT);
  return answer;
}

/**
 * The AgentRuntime contract suite (`describe` block for vitest). Every runtime runs it — the built-in one,
 * the demo model and each adapter — against its real model transport (a replay server, never a stub of our
 * interfaces): declared capabilities are exercised, streaming completes, tools execute, errors reach
 * `session.error`, cancellation settles.
 */
export function agentRuntimeContract(options: AgentRuntimeContractOptions): void {
  const timeout = options.timeoutMs ?? 15_000;

  const withSubject = async (
    scenario: ContractScenario,
    body: (subject: ContractSubject) => Promise<void>,
  ): Promise<void> => {
    const subject = await options.create(scenario);
    try {
      if (!subject) throw new Error(`the subject must be able to produce the ${scenario} scenario`);
      await body(subject);
    } finally {
      await subject?.close?.();
    }
  };

  const subjectFor = (
    scenario: ContractScenario | ContractCapabilityScenario,
  ): ContractSubject | undefined | Promise<ContractSubject | undefined> =>
    CAPABILITY_SCENARIOS.has(scenario)
      ? options.createCapabilitySubject?.(scenario as ContractCapabilityScenario)
      : options.create(scenario as ContractScenario);

  /**
   * A test of one declared capability. The runtime declares it when the scenario's subject does, or (when the
   * subject cannot produce the scenario) the text scenario's: a declared capability must then be shown, and a
   * subject that cannot produce its scenario fails. A runtime that does not declare it skips the test.
   */
  const capabilityTest = (
    capability: AgentCapability,
    scenario: ContractScenario | ContractCapabilityScenario,
    title: string,
    body: (subject: ContractSubject, skip: (note?: string) => never) => Promise<void>,
  ): void => {
    test(`${capability}: ${title}`, { timeout }, async ({ skip }) => {
      const subject = await subjectFor(scenario);
      let declared = subject?.runtime.capabilities.has(capability) ?? false;
      if (!declared) {
        const text = await options.create('text');
        declared = text?.runtime.capabilities.has(capability) ?? false;
        await text?.close?.();
      }
      if (!declared) {
        await subject?.close?.();
        skip(`the runtime does not declare ${capability}`);
      }
      if (!subject)
        throw new Error(
          `the runtime declares ${capability}: the subject must be able to produce the ${scenario} scenario`,
        );
      try {
        await body(subject, skip);
      } finally {
        await subject.close?.();
      }
    });
  };

  describe(`AgentRuntime contract: ${options.name}`, () => {
    test('describes itself truthfully', { timeout }, async () => {
      await withSubject('text', async ({ runtime }) => {
        expect(runtime.name).toMatch(/\S/);
        expect(Number.isFinite(runtime.priority)).toBe(true);
        for (const capability of runtime.capabilities) expect(AGENT_CAPABILITIES).toContain(capability);
        const availability = await runtime.isAvailable();
        if (availability !== true) expect(availability.reason).toMatch(/\S/);
      });
    });

    test('streams the answer and completes the session exactly once', { timeout }, async () => {
      await withSubject('text', async ({ runtime }) => {
        const { session, frames } = collectingSession();
        const controller = new AbortController();
        await runtime.execute(
          createAgentContext({ message: CONTRACT_PROMPTS.text, session }),
          session,
          controller.signal,
        );
        const all = frames.items;
        checkSequence(all);
        const answer = answerOf(all, session.sessionId);
        expect(answer.end?.type).toBe('complete');
        expect(answer.text).toBe(CONTRACT_TEXT);
        if (runtime.capabilities.has('text-streaming')) {
          expect(all.filter((f) => 'type' in f && f.type === 'streaming-text').length).toBeGreaterThanOrEqual(
            2,
          );
        }
        if (runtime.capabilities.has('token-usage')) {
          const total = answer.metadata.get('ai.tokens.total') ?? answer.metadata.get('ai.tokens.output');
          expect(typeof total === 'number' && total > 0).toBe(true);
        }
      });
    });

    test('errors reach session.error and the call settles', { timeout }, async () => {
      await withSubject('error', async ({ runtime }) => {
        const { session, frames } = collectingSession();
        const controller = new AbortController();
        await settle(
          runtime.execute(
            createAgentContext({ message: CONTRACT_PROMPTS.error, session }),
            session,
            controller.signal,
          ),
          timeout - 1000,
          'execute',
        );
        checkSequence(frames.items);
        const end = frames.items.at(-1);
        expect(end && 'type' in end && end.type).toBe('error');
        expect(end && 'type' in end && end.type === 'error' && end.data).toMatch(/\S/);
      });
    });

    capabilityTest('system-prompt', 'text', 'the system prompt reaches the model', async (subject, skip) => {
      const { session } = collectingSession();
      await subject.runtime.execute(
        createAgentContext({ message: CONTRACT_PROMPTS.text, session, systemPrompt: CONTRACT_SYSTEM_PROMPT }),
        session,
        new AbortController().signal,
      );
      const received = subject.lastRequest?.();
      if (!received) return skip('the subject cannot show what the model received');
      expect(received[0]).toEqual({ role: 'system', content: CONTRACT_SYSTEM_PROMPT });
    });

    capabilityTest(
      'conversation-memory',
      'text',
      'the history reaches the model before the prompt',
      async (subject, skip) => {
        const { session } = collectingSession();
        await subject.runtime.execute(
          createAgentContext({ message: CONTRACT_PROMPTS.text, session, history: CONTRACT_HISTORY }),
          session,
          new AbortController().signal,
        );
        const received = subject.lastRequest?.();
        if (!received) return skip('the subject cannot show what the model received');
        expect(received.map((m) => [m.role, m.content])).toEqual([
          ...CONTRACT_HISTORY.map((m) => [m.role, m.content]),
          ['user', CONTRACT_PROMPTS.text],
        ]);
      },
    );

    const echo = (calls: unknown[], requiresApproval = false) =>
      tool({
        name: 'contract_echo',
        description: 'Echoes a value back as pong.',
        parameters: {
          type: 'object',
          properties: { value: { type: 'string' } },
          required: ['value'],
          additionalProperties: false,
        },
        requiresApproval,
        execute: (args) => {
          calls.push(args);
          return 'pong';
        },
      });

    capabilityTest(
      'tool-calling',
      'tool-call',
      'tools execute and the answer continues after them',
      async ({ runtime }) => {
        const { session, frames } = collectingSession();
        const calls: unknown[] = [];
        await runtime.execute(
          createAgentContext({ message: CONTRACT_PROMPTS['tool-call'], session, tools: [echo(calls)] }),
          session,
          new AbortController().signal,
        );
        checkSequence(frames.items);
        const answer = answerOf(frames.items, session.sessionId);
        expect(calls).toEqual([{ value: 'ping' }]);
        expect(answer.events('tool-start').map((e) => [e.toolName, e.arguments])).toEqual([
          ['contract_echo', { value: 'ping' }],
        ]);
        expect(answer.events('tool-result').map((e) => e.result)).toEqual(['pong']);
        const names = frames.items.map((f) => ('event' in f ? f.event : f.type));
        expect(names.indexOf('tool-start')).toBeLessThan(names.indexOf('tool-result'));
        expect(answer.end?.type).toBe('complete');
        expect(answer.text).toContain('pong');
      },
    );

    capabilityTest(
      'tool-call-deltas',
      'tool-call',
      "the call's arguments stream as deltas before the tool runs, and joined they are the arguments",
      async ({ runtime }) => {
        const { session, frames } = collectingSession();
        const calls: unknown[] = [];
        await runtime.execute(
          createAgentContext({ message: CONTRACT_PROMPTS['tool-call'], session, tools: [echo(calls)] }),
          session,
          new AbortController().signal,
        );
        checkSequence(frames.items);
        const deltas = frames.items.filter(
          (f): f is Extract<AiFrame, { type: 'metadata' }> =>
            f.type === 'metadata' && f.key.startsWith('ai.toolCall.delta.'),
        );
        expect(deltas.length).toBeGreaterThan(0);
        const byCall = new Map<string, string>();
        for (const delta of deltas)
          byCall.set(delta.key, (byCall.get(delta.key) ?? '') + String(delta.value));
        expect(byCall.size).toBe(1);
        expect(JSON.parse([...byCall.values()][0]!)).toEqual({ value: 'ping' });
        const firstDelta = frames.items.indexOf(deltas[0]!);
        const start = frames.items.findIndex((f) => f.type === 'event' && f.event === 'tool-start');
        expect(firstDelta).toBeLessThan(start);
      },
    );

    capabilityTest(
      'reasoning-deltas',
      'reasoning',
      'the reasoning arrives as reasoning-delta events before the answer, never in its text',
      async ({ runtime }) => {
        const { session, frames } = collectingSession();
        await runtime.execute(
          createAgentContext({ message: CONTRACT_PROMPTS.reasoning, session }),
          session,
          new AbortController().signal,
        );
        checkSequence(frames.items);
        const answer = answerOf(frames.items, session.sessionId);
        expect(answer.end?.type).toBe('complete');
        const reasoning = answer.events('reasoning-delta').map((e) => e.text);
        expect(reasoning.length).toBeGreaterThan(0);
        expect(reasoning.join('')).toBe(CONTRACT_REASONING);
        expect(answer.text).toBe(CONTRACT_TEXT);
        const firstReasoning = frames.items.findIndex(
          (f) => f.type === 'event' && f.event === 'reasoning-delta',
        );
        const firstText = frames.items.findIndex((f) => f.type === 'streaming-text');
        expect(firstText).toBeGreaterThan(firstReasoning);
      },
    );

    capabilityTest(
      'vision',
      'vision',
      "the image's bytes reach the model with the prompt's text",
      async (subject) => {
        await answersContractText(subject.runtime, {
          message: CONTRACT_PROMPTS.vision,
          parts: [CONTRACT_IMAGE],
        });
        const images = subject.receivedImages?.();
        if (images === undefined)
          throw new Error(
            'the runtime declares vision: the subject must show the images the model received (receivedImages)',
          );
        expect(images).toEqual([CONTRACT_IMAGE]);
        const received = subject.lastRequest?.();
        if (received) expect(JSON.stringify(received.at(-1))).toContain(CONTRACT_PROMPTS.vision);
      },
    );

    capabilityTest(
      'prompt-caching',
      'prompt-caching',
      'the caching hint reaches the provider, and the cached input tokens come back in the usage',
      async (subject) => {
        const answer = await answersContractText(subject.runtime, {
          message: CONTRACT_PROMPTS['prompt-caching'],
          systemPrompt: CONTRACT_SYSTEM_PROMPT,
          history: CONTRACT_HISTORY,
          promptCache: CONTRACT_PROMPT_CACHE,
        });
        expect(answer.metadata.get('ai.tokens.cached_input')).toBe(CONTRACT_CACHED_INPUT_TOKENS);
        const received = subject.receivedPromptCache?.();
        if (received === undefined)
          throw new Error(
            'the runtime declares prompt-caching: the subject must show the caching hint the provider received (receivedPromptCache), and the provider must have received one',
          );
        expect(received.retention).toBe(CONTRACT_PROMPT_CACHE.retention);
        // A key where the provider routes by key; else breakpoints where it caches at marked points.
        if (received.key === undefined) expect(received.breakpoints ?? 0).toBeGreaterThan(0);
        else expect(received.key).toBe(CONTRACT_PROMPT_CACHE.key);
      },
    );

    capabilityTest(
      'per-request-retry',
      'retry',
      "the prompt's retry policy decides: one retry is not enough, two reach the answer",
      async (first) => {
        const run = async (runtime: AgentRuntime, maxRetries: number) => {
          const { session, frames } = collectingSession();
          await settle(
            runtime.execute(
              createAgentContext({ message: CONTRACT_PROMPTS.retry, session, retry: { maxRetries } }),
              session,
              new AbortController().signal,
            ),
            timeout / 2,
            'execute',
          );
          checkSequence(frames.items);
          return answerOf(frames.items, session.sessionId);
        };
        const short = await run(first.runtime, 1);
        expect(short.end?.type).toBe('error');
        expect(short.text).toBe('');
        const second = await options.createCapabilitySubject?.('retry');
        if (!second) throw new Error('the subject must be able to produce the retry scenario twice');
        try {
          const enough = await run(second.runtime, 2);
          expect(enough.end?.type).toBe('complete');
          expect(enough.text).toBe(CONTRACT_TEXT);
        } finally {
          await second.close?.();
        }
      },
    );

    capabilityTest(
      'tool-approval',
      'tool-call',
      'an approved call runs only after the answer; a denied one never',
      async ({ runtime }) => {
        for (const verdict of ['approve', 'deny'] as const) {
          const subject = await options.create('tool-call');
          const target = subject?.runtime ?? runtime;
          try {
            const { session, frames } = collectingSession();
            const approvals = new ApprovalRegistry({ timeoutMs: 10_000 });
            const calls: unknown[] = [];
            const done = target.execute(
              createAgentContext({
                message: CONTRACT_PROMPTS['tool-call'],
                session,
                tools: [echo(calls, true)],
                approvals,
              }),
              session,
              new AbortController().signal,
            );
            const asked = await frames.waitFor(
              (f) => 'event' in f && f.event === 'approval-required',
              timeout / 2,
            );
            expect(calls).toEqual([]);
            const id = (asked as AiEventFrame<'approval-required'>).data.approvalId;
            expect(approvals.answer(`/__approval/${id}/${verdict}`, 'contract-client')).toBe(
              verdict === 'approve' ? 'approved' : 'denied',
            );
            await done;
            const answer = answerOf(frames.items, session.sessionId);
            expect(answer.end?.type).toBe('complete');
            if (verdict === 'approve') expect(calls).toEqual([{ value: 'ping' }]);
            else {
              expect(calls).toEqual([]);
              expect(answer.events('tool-error').map((e) => e.toolName)).toEqual(['contract_echo']);
            }
          } finally {
            await subject?.close?.();
          }
        }
      },
    );

    capabilityTest(
      'structured-output',
      'structured',
      'the JSON answer becomes a validated entity',
      async ({ runtime }) => {
        const { session, frames } = collectingSession();
        const output = structuredOutput({
          name: 'Weather',
          schema: {
            type: 'object',
            properties: { city: { type: 'string' }, celsius: { type: 'number' } },
            required: ['city', 'celsius'],
          },
        });
        const response = await runAgent({
          runtime,
          session,
          message: CONTRACT_PROMPTS.structured,
          structuredOutput: output,
        });
        expect(response.status).toBe('complete');
        expect(response.entity).toEqual(CONTRACT_ENTITY);
        const answer = answerOf(frames.items, session.sessionId);
        expect(answer.events('entity-complete')).toEqual([{ typeName: 'Weather', entity: CONTRACT_ENTITY }]);
        expect(answer.events('structured-field').map((f) => f.fieldName)).toEqual(['city', 'celsius']);
      },
    );

    capabilityTest(
      'cancellation',
      'slow',
      'aborting the signal settles the call and closes the session',
      async ({ runtime }) => {
        const { session, frames } = collectingSession();
        const controller = new AbortController();
        const done = runtime.execute(
          createAgentContext({ message: CONTRACT_PROMPTS.slow, session }),
          session,
          controller.signal,
        );
        await frames.waitFor((f) => 'type' in f && f.type === 'streaming-text', timeout / 2);
        controller.abort(new Error('the contract suite cancelled'));
        await settle(done, timeout / 2, 'execute after abort');
        expect(session.closed).toBe(true);
        const end = frames.items.at(-1);
        expect(end && 'type' in end && end.type === 'error' && end.code).toBe('CANCELLED');
        checkSequence(frames.items);
      },
    );
  });
}
