import type { AgentRuntime } from '@atmosphere/ai/spi';
import type { Provider } from '@atmosphere/runtime/spi';
import { describe, expect, expectTypeOf, test } from 'vitest';
import type { googleGenAi, GoogleGenAiRuntime } from '../src/index.ts';

/**
 * The public surface of @atmosphere/adapter-google-genai, pinned: a value export added or removed shows here
 * in review (and needs a changeset). Key types are checked by expectTypeOf, which the typecheck runs.
 */
describe('@atmosphere/adapter-google-genai public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'DEFAULT_GEMINI_MODEL',
      'GEMINI_API_KEY_ENV',
      'GEMINI_MODEL_ENV',
      'GOOGLE_GENAI_CAPABILITIES',
      'GOOGLE_GENAI_CAPABILITY_NOTES',
      'GOOGLE_GENAI_FEATURES',
      'GOOGLE_GENAI_RUNTIME',
      'GoogleGenAiRuntime',
      'googleGenAi',
      'googleGenAiRuntime',
    ]);
  });

  test('key types', () => {
    expectTypeOf<GoogleGenAiRuntime>().toExtend<AgentRuntime>();
    expectTypeOf<ReturnType<typeof googleGenAi>>().toEqualTypeOf<Provider<'agent-runtime'>>();
  });
});
