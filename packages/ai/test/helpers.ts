import type { Atmosphere, AtmosphereOptions } from '@atmosphere/runtime';
import { recordingLogger, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { expect } from 'vitest';
import { aiEndpoint, type AiEndpointHandle } from '../src/endpoint/ai-endpoint.ts';
import type { AiEndpointOptions } from '../src/endpoint/ai-endpoint-options.ts';
import { runAgent, type RunAgentOptions } from '../src/pipeline/run-agent.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { openAiRuntime } from '../src/runtimes/openai/openai-runtime.ts';
import {
  collectingSession,
  type ReplayServer,
  type ReplayStep,
  startReplayServer,
} from '../src/testing/index.ts';

/** An Atmosphere with one AI endpoint, and (when steps are given) a replay server behind the built-in runtime. */
export interface Harness {
  readonly atmosphere: Atmosphere;
  readonly endpoint: AiEndpointHandle;
  readonly replay: ReplayServer | undefined;
  url(path?: string): string;
  close(): Promise<void>;
}

export async function harness(
  options: Partial<AiEndpointOptions> & { steps?: ReplayStep[]; atmosphere?: AtmosphereOptions } = {},
): Promise<Harness> {
  const { steps, atmosphere: atmosphereOptions, ...endpointOptions } = options;
  const replay = steps ? await startReplayServer(steps) : undefined;
  const atmosphere = await startTestAtmosphere(atmosphereOptions);
  const runtime =
    endpointOptions.runtime ??
    (replay
      ? openAiRuntime({
          env: {},
          apiKey: 'sk-test-harness-key-0123456789',
          model: 'gpt-4o-mini',
          baseUrl: replay.baseUrl,
          retry: { maxRetries: 0 },
        })
      : undefined);
  const endpoint = aiEndpoint(atmosphere, {
    path: '/ai/chat',
    ...endpointOptions,
    ...(runtime ? { runtime } : {}),
  });
  return {
    atmosphere,
    endpoint,
    replay,
    url: (path = '/ai/chat') => atmosphere.url(path),
    async close() {
      await endpoint.close();
      await atmosphere.close();
      await replay?.close();
    },
  };
}

/**
 * Runs two prompts with these options on the demo runtime (which declares neither `per-request-retry` nor
 * `prompt-caching`); both complete. The warnings the pipeline logged.
 */
export async function demoWarnings(
  options: Omit<RunAgentOptions, 'runtime' | 'session' | 'message' | 'logger'>,
): Promise<string[]> {
  const runtime = demoRuntime({ delayMs: 0, answer: () => 'Hi.' });
  const logger = recordingLogger();
  for (let i = 0; i < 2; i++) {
    const { session } = collectingSession();
    const response = await runAgent({ ...options, runtime, session, message: 'Hello?', logger });
    expect(response.status).toBe('complete');
  }
  return logger.lines.filter((l) => l.level === 'warn').map((l) => l.message);
}
