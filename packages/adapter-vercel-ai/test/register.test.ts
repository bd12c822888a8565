import { registry } from '@atmosphere/runtime/spi';
import { startForSelection } from '@atmosphere/runtime/testing';
import { afterAll, describe, expect, test } from 'vitest';
import '../src/register.ts';
import { VercelAiRuntime, vercelAiRuntimeProvider } from '../src/index.ts';
import { scriptedModel } from './mock-models.ts';

afterAll(() => {
  registry.unregister('agent-runtime', 'vercel-ai');
  delete (globalThis as { AI_SDK_DEFAULT_PROVIDER?: unknown }).AI_SDK_DEFAULT_PROVIDER;
});

describe('the register entry and the provider', () => {
  test('registers the AI SDK runtime at priority 100', () => {
    expect(registry.providers('agent-runtime').map((p) => [p.name, p.priority])).toContainEqual([
      'vercel-ai',
      100,
    ]);
  });

  test('without AI_SDK_MODEL it is unavailable, and the startup line says what to set', async () => {
    const { atmosphere, line } = await startForSelection('agent-runtime', {});
    try {
      expect(atmosphere.provider('agent-runtime')?.name).not.toBe('vercel-ai');
      expect(line).toContain(
        'vercel-ai: unavailable — no AI SDK model configured: set AI_SDK_MODEL (with AI_GATEWAY_API_KEY), or register vercelAiRuntimeProvider({ model })',
      );
    } finally {
      await atmosphere.close();
    }
  });

  test('a model id without a provider to resolve it is unavailable, naming both ways', async () => {
    const { atmosphere, line } = await startForSelection('agent-runtime', {
      AI_SDK_MODEL: 'openai/gpt-4o-mini',
    });
    try {
      expect(line).toContain(
        'vercel-ai: unavailable — AI_SDK_MODEL=openai/gpt-4o-mini needs a provider to resolve it: set AI_GATEWAY_API_KEY, or globalThis.AI_SDK_DEFAULT_PROVIDER',
      );
    } finally {
      await atmosphere.close();
    }
  });

  test('with a model id and the AI Gateway key it wins over the built-in runtime', async () => {
    const { atmosphere, line } = await startForSelection('agent-runtime', {
      AI_SDK_MODEL: 'openai/gpt-4o-mini',
      AI_GATEWAY_API_KEY: 'gw-test',
    });
    try {
      const runtime = atmosphere.provider('agent-runtime');
      expect(runtime).toBeInstanceOf(VercelAiRuntime);
      expect((runtime as VercelAiRuntime).model).toBe('openai/gpt-4o-mini');
      expect(line).toMatch(/^agent-runtime: vercel-ai selected/);
    } finally {
      await atmosphere.close();
    }
  });

  test('vercelAiRuntimeProvider({ model }) is always available at priority 100', async () => {
    const provider = vercelAiRuntimeProvider({ model: scriptedModel([{ text: ['hi'] }]) });
    expect([provider.kind, provider.name, provider.priority]).toEqual(['agent-runtime', 'vercel-ai', 100]);
    expect(provider.isAvailable({} as never)).toBe(true);
  });
});
