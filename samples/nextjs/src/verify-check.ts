import { type AiFrame, isTerminalFrame, parseAiFrame } from '@atmosphere/protocol';
import { connectTestClient, type TestTransport } from '@atmosphere/runtime/testing';
import type { Sample } from './server.ts';
import { ROUTE_PATH, WEBSOCKET_PATH } from './setup.ts';

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`verify: ${message}`);
}

/** Sends a prompt over `transport` and returns the frames of its answer, up to the terminal one. */
async function answer(url: string, transport: TestTransport, prompt: string): Promise<AiFrame[]> {
  const client = await connectTestClient(url, transport);
  try {
    await client.send(prompt);
    const end = await client.messages.waitFor((m) => {
      const frame = parseAiFrame(m);
      return frame !== undefined && isTerminalFrame(frame);
    }, 30_000);
    const sessionId = parseAiFrame(end)?.sessionId;
    return client.messages.items
      .map(parseAiFrame)
      .filter((f): f is AiFrame => f !== undefined && f.sessionId === sessionId);
  } finally {
    await client.close();
  }
}

function streamed(frames: AiFrame[], via: string): void {
  const texts = frames.filter((f) => f.type === 'streaming-text');
  assert(
    frames.at(-1)?.type === 'complete',
    `${via}: the answer completes (${frames.at(-1)?.type ?? 'no end'})`,
  );
  assert(texts.length > 1, `${via}: the text streams in several frames (${texts.length})`);
  assert(
    frames.some((f) => f.type === 'progress'),
    `${via}: a progress frame arrives first`,
  );
}

/**
 * The sample's self-check against a running custom server: the page renders, the demo model's answer streams
 * over WebSocket from the custom server and over SSE and long-polling from the App Router route handler.
 * Throws on the first thing that is wrong.
 */
export async function verifySample(sample: Sample): Promise<string[]> {
  const done: string[] = [];
  const page = await fetch(sample.url);
  const html = await page.text();
  assert(page.status === 200 && html.includes('Atmosphere × Next.js'), `the page renders (${page.status})`);
  assert(html.includes('/icon.svg'), 'the page links its icon');
  assert((await fetch(new URL('/icon.svg', sample.url))).status === 200, 'the icon is served');
  done.push('Next serves the page (with its icon) from the custom server');

  streamed(await answer(new URL(WEBSOCKET_PATH, sample.url).toString(), 'websocket', 'Hello'), 'WebSocket');
  done.push('the answer streams over WebSocket from the custom server');

  for (const transport of ['sse', 'long-polling'] as const) {
    streamed(await answer(new URL(ROUTE_PATH, sample.url).toString(), transport, 'Hello'), transport);
    done.push(`the answer streams over ${transport} from the route handler`);
  }
  const upgrade = await fetch(new URL('/nowhere', sample.url));
  assert(upgrade.status === 404, `a path neither serves is Next's 404 (${upgrade.status})`);
  done.push("a path neither serves is Next's 404");
  return done;
}
