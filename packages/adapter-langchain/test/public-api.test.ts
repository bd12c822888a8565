import type { AgentRuntime } from '@atmosphere/ai/spi';
import type { Provider } from '@atmosphere/runtime/spi';
import { describe, expect, expectTypeOf, test } from 'vitest';
import type {
  langChain,
  LangChainRuntime,
  ModeStreamingGraph,
  streamGraph,
  StreamGraphResult,
  streamRunnable,
  StreamRunnableResult,
} from '../src/index.ts';

/**
 * The public surface of @atmosphere/adapter-langchain, pinned: a value export added or removed shows here in
 * review (and needs a changeset). Key types are checked by expectTypeOf, which the typecheck runs.
 */
describe('@atmosphere/adapter-langchain public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'LANGCHAIN_CAPABILITY_RULES',
      'LANGCHAIN_FEATURES',
      'LANGCHAIN_MODEL_SETTING',
      'LANGCHAIN_RUNTIME',
      'LangChainRuntime',
      'detectCapabilities',
      'langChain',
      'langChainFromSettings',
      'langChainRuntime',
      'streamGraph',
      'streamRunnable',
    ]);
  });

  test('key types', () => {
    expectTypeOf<LangChainRuntime>().toExtend<AgentRuntime>();
    expectTypeOf<ReturnType<typeof langChain>>().toEqualTypeOf<Provider<'agent-runtime'>>();
    expectTypeOf<Awaited<ReturnType<typeof streamRunnable>>>().toEqualTypeOf<StreamRunnableResult>();
    expectTypeOf<Awaited<ReturnType<typeof streamGraph>>>().toEqualTypeOf<StreamGraphResult>();
    expectTypeOf<ModeStreamingGraph<{ messages: unknown[] }>>().toHaveProperty('stream');
  });
});
