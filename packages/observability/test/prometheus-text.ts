import { expect } from 'vitest';

/** Reads one sample of a Prometheus text exposition: the value of `name{labels}` (exact label set). */
export function sample(text: string, name: string, labels = ''): number | undefined {
  const key = labels === '' ? name : `${name}{${labels}}`;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${key} `)) return Number(line.slice(key.length + 1));
  }
  return undefined;
}

/** Fetches a `/metrics` page; it must answer 200. */
export async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}
