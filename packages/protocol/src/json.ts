import { ProtocolError } from './errors.ts';

const DANGEROUS_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const DANGEROUS_TEXT = ['__proto__', 'constructor', 'prototype'];

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

/**
 * Removes every own `__proto__`, `constructor` and `prototype` key, at any depth, by their decoded names. An
 * object holding one is rebuilt without it rather than `delete`d from: deleting turns each object into a slow
 * dictionary, which an attacker could use to make one message cost ten times its parse. Recursion is bounded by
 * the depth limit checked before parsing.
 */
function withoutDangerousKeys(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = withoutDangerousKeys(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let dangerous = false;
  for (const key of keys) {
    if (DANGEROUS_KEYS.has(key)) {
      dangerous = true;
      break;
    }
  }
  if (!dangerous) {
    for (const key of keys) record[key] = withoutDangerousKeys(record[key]);
    return record;
  }
  const copy: Record<string, unknown> = {};
  for (const key of keys) if (!DANGEROUS_KEYS.has(key)) copy[key] = withoutDangerousKeys(record[key]);
  return copy;
}

/**
 * Whether parsed JSON may hold a dangerous key: its text names one literally, or has an escape (`\u005f`,
 * `\/`…) that could spell one. Text with neither cannot, and is not walked (the common case costs nothing).
 */
function mayHoldDangerousKey(text: string): boolean {
  if (text.indexOf('\\') !== -1) return true;
  for (const key of DANGEROUS_TEXT) if (text.indexOf(key) !== -1) return true;
  return false;
}

/**
 * `JSON.parse` for untrusted input: refuses nesting deeper than `maxDepth` (default 64) and removes
 * `__proto__`, `constructor` and `prototype` keys at every depth — decided on the keys as decoded, whatever
 * escapes spelled them — so no later merge can pollute a prototype. Throws a {@link ProtocolError}
 * (`INVALID_JSON`) with the reason.
 */
export function parseUntrustedJson(text: string, maxDepth = 64): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) {
    throw new ProtocolError(
      'INVALID_JSON',
      `JSON nested deeper than ${maxDepth} levels (option \`maxJsonDepth\`).`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError('INVALID_JSON', `The message is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return mayHoldDangerousKey(text) ? withoutDangerousKeys(value) : value;
}
