import { expect, test } from 'vitest';
import { verifyAdapters } from '../src/verify-check.ts';

test('the self-check passes with the fake models (no key set)', async () => {
  const result = await verifyAdapters({ env: {}, timeoutMs: 15_000 });
  expect(result.lines.filter((line) => line.startsWith('FAILED'))).toEqual([]);
  expect(result.lines.length).toBe(9);
  expect(result.ok).toBe(true);
});
