import { AtmosphereError } from '../errors.ts';

const DANGEROUS_KEYS = ['__proto__', 'constructor', 'prototype'];

/** Deepest nesting of arrays/objects in JSON text, counted without parsing (strings skipped). */
export function jsonDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) {
        max = depth;
        if (max > stopAt) return max;
      }
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return max;
}

function stripDangerousKeys(root: unknown): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (DANGEROUS_KEYS.includes(key)) delete (value as Record<string, unknown>)[key];
      else stack.push((value as Record<string, unknown>)[key]);
    }
  }
}

/**
 * `JSON.parse` for untrusted input: refuses nesting deeper than `maxDepth` (default 64) and removes
 * `__proto__`, `constructor` and `prototype` keys, so a later merge cannot pollute prototypes.
 * Throws `INVALID_JSON` (400) with the reason.
 */
export function parseUntrustedJson(text: string, maxDepth = 64): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) {
    throw new AtmosphereError(
      'INVALID_JSON',
      `JSON nested deeper than ${maxDepth} levels (option \`maxJsonDepth\`).`,
      {
        status: 400,
      },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AtmosphereError('INVALID_JSON', `The message is not valid JSON: ${(error as Error).message}`, {
      status: 400,
      cause: error,
    });
  }
  if (DANGEROUS_KEYS.some((key) => text.includes(`"${key}"`))) stripDangerousKeys(value);
  return value;
}
