import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { connectAiClient } from '../src/testing/index.ts';
import { sseStep } from './fixtures.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const Weather = z.object({ city: z.string(), celsius: z.number(), conditions: z.array(z.string()) });

describe('structured output', () => {
  test('JSON mode, entity-start, a structured-field per field as it completes, the validated entity', async () => {
    h = await harness({
      steps: [sseStep('openai-structured.sse')],
      structuredOutput: { name: 'Weather', schema: Weather },
    });
    const client = await connectAiClient(h.url());
    await client.prompt('Weather in Montreal as JSON');
    const answer = await client.answer();
    expect(answer.end?.type).toBe('complete');
    expect(answer.events('entity-start')).toEqual([
      { typeName: 'Weather', jsonSchema: expect.objectContaining({ type: 'object' }) },
    ]);
    expect(answer.events('structured-field')).toEqual([
      { fieldName: 'city', value: 'Montreal', schemaType: 'string' },
      { fieldName: 'celsius', value: 21, schemaType: 'number' },
      { fieldName: 'conditions', value: ['sunny', 'windy'], schemaType: 'array' },
    ]);
    expect(answer.events('entity-complete')).toEqual([
      { typeName: 'Weather', entity: { city: 'Montreal', celsius: 21, conditions: ['sunny', 'windy'] } },
    ]);
    const kinds = answer.frames.map((f) => ('event' in f ? f.event : f.type));
    expect(kinds.indexOf('entity-start')).toBeLessThan(kinds.indexOf('structured-field'));
    expect(kinds.at(-2)).toBe('entity-complete');
    const request = await h.replay!.requests.next();
    expect(request.body!['response_format']).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'Weather' },
    });
    const system = (request.body!['messages'] as { role: string; content: string }[])[0]!;
    expect(system.role).toBe('system');
    expect(system.content).toContain('Answer with a single JSON object that matches this JSON Schema');
    await client.close();
  });

  test('an answer that does not match the schema ends with STRUCTURED_OUTPUT_INVALID', async () => {
    h = await harness({
      steps: [sseStep('openai-structured.sse')],
      structuredOutput: { name: 'Weather', schema: z.object({ city: z.string(), celsius: z.string() }) },
    });
    const client = await connectAiClient(h.url());
    await client.prompt('Weather?');
    const answer = await client.answer();
    expect(answer.events('entity-complete')).toEqual([]);
    expect(answer.end).toMatchObject({ type: 'error', code: 'STRUCTURED_OUTPUT_INVALID' });
    expect((answer.end as { data: string }).data).toMatch(/does not match the Weather schema: \$\.celsius: /);
    await client.close();
  });

  test('text that is not JSON ends with STRUCTURED_OUTPUT_INVALID', async () => {
    h = await harness({
      steps: [sseStep('openai-text.sse')],
      structuredOutput: { schema: { type: 'object' } },
    });
    const client = await connectAiClient(h.url());
    await client.prompt('Weather?');
    expect((await client.answer()).end).toMatchObject({ type: 'error', code: 'STRUCTURED_OUTPUT_INVALID' });
    await client.close();
  });
});
