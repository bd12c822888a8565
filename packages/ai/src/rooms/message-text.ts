/**
 * The text of a room message's `data`, as an AI member reads it: a string as it is, or the first string among
 * an object's `text`, `prompt`, `message` and `content` members (the shapes chat clients send). Anything else
 * (numbers, arrays, objects without text) has no text: `undefined`.
 */
export function roomMessageText(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const record = data as Readonly<Record<string, unknown>>;
  for (const key of TEXT_KEYS) {
    const value = record[key];
    if (typeof value === 'string') return value;
  }
  return undefined;
}

const TEXT_KEYS = ['text', 'prompt', 'message', 'content'] as const;
