import { describe, expect, test } from 'vitest';
import { GEMINI_BASE_URL, OLLAMA_BASE_URL, OPENAI_BASE_URL, resolveLlmConfig } from './config.ts';

describe('resolveLlmConfig', () => {
  test('defaults: remote, gemini-2.5-flash on the Gemini endpoint, no key', () => {
    expect(resolveLlmConfig({})).toMatchObject({
      mode: 'remote',
      model: 'gemini-2.5-flash',
      apiKey: undefined,
      baseUrl: GEMINI_BASE_URL,
      provider: 'gemini',
    });
  });

  test.each([
    ['gpt-4o-mini', OPENAI_BASE_URL],
    ['o1-mini', OPENAI_BASE_URL],
    ['o3', OPENAI_BASE_URL],
    ['gemini-2.5-pro', GEMINI_BASE_URL],
    ['claude-x', GEMINI_BASE_URL],
  ])('LLM_MODEL=%s → %s', (model, baseUrl) => {
    expect(resolveLlmConfig({ LLM_MODEL: model }).baseUrl).toBe(baseUrl);
  });

  test('local mode goes to Ollama with llama3.2 unless a model is named', () => {
    expect(resolveLlmConfig({ LLM_MODE: 'local' })).toMatchObject({
      baseUrl: OLLAMA_BASE_URL,
      model: 'llama3.2',
      provider: 'ollama',
    });
    expect(resolveLlmConfig({ LLM_MODE: 'LOCAL', LLM_MODEL: 'qwen3' }).model).toBe('qwen3');
  });

  test('the key falls back LLM_API_KEY → OPENAI_API_KEY → GEMINI_API_KEY, and names its source', () => {
    expect(resolveLlmConfig({ GEMINI_API_KEY: 'g', OPENAI_API_KEY: 'o' })).toMatchObject({
      apiKey: 'o',
      apiKeySource: 'OPENAI_API_KEY',
    });
    expect(resolveLlmConfig({ GEMINI_API_KEY: 'g' })).toMatchObject({
      apiKey: 'g',
      apiKeySource: 'GEMINI_API_KEY',
    });
    expect(resolveLlmConfig({ LLM_API_KEY: 'l', GEMINI_API_KEY: 'g' })).toMatchObject({
      apiKey: 'l',
      apiKeySource: 'LLM_API_KEY',
    });
    expect(resolveLlmConfig({ LLM_API_KEY: '  ' }).apiKey).toBeUndefined();
  });

  test('LLM_BASE_URL and explicit options win; trailing slashes go', () => {
    expect(resolveLlmConfig({ LLM_BASE_URL: 'http://proxy:8000/v1/' }).baseUrl).toBe('http://proxy:8000/v1');
    expect(
      resolveLlmConfig({ LLM_MODEL: 'gpt-4o' }, { model: 'gemini-2.5-flash', apiKey: 'x' }),
    ).toMatchObject({
      model: 'gemini-2.5-flash',
      apiKeySource: 'the apiKey option',
    });
  });

  test('bad values are refused with the variable to fix', () => {
    expect(() => resolveLlmConfig({ LLM_MODE: 'cloud' })).toThrow(/LLM_MODE must be remote, local or fake/);
    expect(() => resolveLlmConfig({ LLM_BASE_URL: 'ftp://x' })).toThrow(
      /LLM_BASE_URL must be an http\(s\) URL/,
    );
  });
});
