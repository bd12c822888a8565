import '@atmosphere/ai/register';
import '../src/register.ts';
import { registry } from '@atmosphere/runtime/spi';
import { startForSelection } from '@atmosphere/runtime/testing';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { afterAll, describe, expect, test } from 'vitest';
import { LangChainRuntime } from '../src/index.ts';

afterAll(() => {
  registry.unregister('agent-runtime', 'langchain');
});

describe('the register entry', () => {
  test('registers the langchain runtime at priority 100', () => {
    expect(registry.providers('agent-runtime').map((p) => [p.name, p.priority])).toContainEqual([
      'langchain',
      100,
    ]);
  });

  test('without a model in the settings the demo model wins, and the line says how to configure one', async () => {
    const { atmosphere, line } = await startForSelection('agent-runtime', {});
    await atmosphere.close();
    expect(line).toMatch(/^agent-runtime: demo selected/);
    expect(line).toContain(
      "langchain: unavailable — no LangChain model configured; pass langChain({ model }) in createAtmosphere({ providers }), or settings['agent-runtime'].langchainModel",
    );
  });

  test('a value that is not a chat model is refused with the reason', async () => {
    const { atmosphere, line } = await startForSelection(
      'agent-runtime',
      {},
      { langchainModel: 'gpt-4o-mini' },
    );
    await atmosphere.close();
    expect(line).toContain(
      "langchain: unavailable — settings['agent-runtime'].langchainModel is not a LangChain chat model (it has no stream())",
    );
  });

  test('with a model in the settings the langchain runtime wins over the built-in one and the demo', async () => {
    const model = new FakeListChatModel({ responses: ['hi'] });
    const { atmosphere, line } = await startForSelection('agent-runtime', {}, { langchainModel: model });
    try {
      const runtime = atmosphere.provider('agent-runtime');
      expect(runtime).toBeInstanceOf(LangChainRuntime);
      expect((runtime as LangChainRuntime).model).toBe(model);
      expect(line).toMatch(
        /^agent-runtime: langchain selected \(highest priority of the available candidates \(100\)\); demo: outranked — outranked by langchain \(priority 100 vs -100\)/,
      );
    } finally {
      await atmosphere.close();
    }
  });
});
