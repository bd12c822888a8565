import { readFileSync } from 'node:fs';
import type { ReplayStep } from '../src/testing/index.ts';

const dir = new URL('./__fixtures__/', import.meta.url);

/** The raw SSE text of a transcript. */
export function transcript(name: string): string {
  return readFileSync(new URL(name, dir), 'utf8');
}

/** A streamed replay step from a transcript file. */
export function sseStep(
  name: string,
  options: Omit<Extract<ReplayStep, { kind: 'sse' }>, 'kind' | 'body'> = {},
): ReplayStep {
  return { kind: 'sse', body: transcript(name), ...options };
}

/** A plain HTTP replay step from a `{ status, headers, body }` fixture. */
export function httpStep(name: string): ReplayStep {
  const fixture = JSON.parse(transcript(name)) as {
    status: number;
    headers: Record<string, string>;
    body: unknown;
  };
  return {
    kind: 'http',
    status: fixture.status,
    headers: fixture.headers,
    body: JSON.stringify(fixture.body),
  };
}

/** The text a transcript streams (its `delta.content` pieces joined). */
export function transcriptText(name: string): string {
  let text = '';
  for (const line of transcript(name).split('\n')) {
    if (!line.startsWith('data: {')) continue;
    try {
      const chunk = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string | null } }[] };
      text += chunk.choices?.[0]?.delta?.content ?? '';
    } catch {
      // the malformed line
    }
  }
  return text;
}
