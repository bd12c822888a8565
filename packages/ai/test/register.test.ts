import { registry } from '@atmosphere/runtime/spi';
import { startForSelection } from '@atmosphere/runtime/testing';
import { describe, expect, test } from 'vitest';
import '../src/register.ts';
import { InMemoryConversationMemory } from '../src/memory/in-memory-conversation-memory.ts';
import { DemoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { OpenAiCompatibleRuntime } from '../src/runtimes/openai/openai-runtime.ts';

const start = (env: Record<string, string>, settings?: Record<string, unknown>) =>
  startForSelection('agent-runtime', env, settings);

describe('the register entry', () => {
  test('registers the built-in runtime, the demo model and the in-memory conversation store', () => {
    expect(registry.providers('agent-runtime').map((p) => [p.name, p.priority])).toEqual([
      ['built-in', 0],
      ['demo', -100],
    ]);
    expect(registry.providers('conversation-memory').map((p) => p.name)).toEqual(['in-memory']);
  });

  test('without a key the demo model wins, and the log says why the built-in one lost', async () => {
    const { atmosphere, line } = await start({});
    try {
      expect(atmosphere.provider('agent-runtime')).toBeInstanceOf(DemoRuntime);
      expect(atmosphere.provider('conversation-memory')).toBeInstanceOf(InMemoryConversationMemory);
      expect(line).toBe(
        'agent-runtime: demo selected (highest priority of the available candidates (-100)); built-in: unavailable — no API key for gemini-2.5-flash at https://generativelanguage.googleapis.com/v1beta/openai: set LLM_API_KEY (or OPENAI_API_KEY / GEMINI_API_KEY), or LLM_MODE=local for Ollama',
      );
    } finally {
      await atmosphere.close();
    }
  });

  test('with a key the built-in runtime wins; the key appears in no log line or description', async () => {
    const key = 'sk-registry-test-5f4e3d2c1b0a';
    const { atmosphere, logger, line } = await start({ OPENAI_API_KEY: key, LLM_MODEL: 'gpt-4o-mini' });
    try {
      const runtime = atmosphere.provider('agent-runtime');
      expect(runtime).toBeInstanceOf(OpenAiCompatibleRuntime);
      expect((runtime as OpenAiCompatibleRuntime).config).toMatchObject({
        model: 'gpt-4o-mini',
        baseUrl: 'https://api.openai.com/v1',
        apiKeySource: 'OPENAI_API_KEY',
      });
      expect(line).toBe(
        'agent-runtime: built-in selected (highest priority of the available candidates (0)); demo: outranked — outranked by built-in (priority 0 vs -100)',
      );
      expect(JSON.stringify(logger.lines) + JSON.stringify(atmosphere.describe())).not.toContain(key);
    } finally {
      await atmosphere.close();
    }
  });

  test('LLM_MODE=fake selects the demo model; settings override the environment', async () => {
    const fake = await start({ LLM_MODE: 'fake', LLM_API_KEY: 'k' });
    await fake.atmosphere.close();
    expect(fake.line).toContain('built-in: unavailable — LLM_MODE=fake selects the demo model');
    const configured = await start({}, { apiKey: 'from-settings', model: 'gemini-2.5-pro' });
    try {
      expect(
        (configured.atmosphere.provider('agent-runtime') as OpenAiCompatibleRuntime).config,
      ).toMatchObject({
        model: 'gemini-2.5-pro',
        apiKeySource: 'the apiKey option',
      });
    } finally {
      await configured.atmosphere.close();
    }
    const bad = await start({ LLM_MODE: 'cloud' });
    await bad.atmosphere.close();
    expect(bad.line).toContain(
      'built-in: unavailable — LLM_MODE must be remote, local or fake; got "cloud".',
    );
  });
});
