import { type AiFrame, isTerminalFrame, parseAiFrame } from '@atmosphere/protocol';
import { silentLogger } from '@atmosphere/runtime';
import { connectTestClient, type TestClient } from '@atmosphere/runtime/testing';
import { startAiChat } from './server.ts';

/** What the check found. */
export interface VerifyResult {
  readonly ok: boolean;
  readonly runtime: string;
  /** One line per check, `ok` or `FAILED`, with what was seen. */
  readonly lines: readonly string[];
}

async function answer(client: TestClient, prompt: string, timeoutMs: number): Promise<AiFrame[]> {
  const before = client.messages.items.length;
  await client.send(prompt);
  const end = await client.messages.waitFor((m) => {
    const frame = parseAiFrame(m);
    return frame !== undefined && isTerminalFrame(frame);
  }, timeoutMs);
  const sessionId = parseAiFrame(end)?.sessionId;
  return client.messages.items
    .slice(before)
    .map(parseAiFrame)
    .filter((f): f is AiFrame => f !== undefined && f.sessionId === sessionId);
}

/**
 * Starts the sample on a free port, sends prompts with a protocol client over WebSocket, and checks that the
 * streamed answers complete (with the demo model, also that the weather tool ran). Never throws.
 */
export async function verifyAiChat(
  options: { env?: Readonly<Record<string, string | undefined>>; timeoutMs?: number } = {},
): Promise<VerifyResult> {
  const lines: string[] = [];
  let ok = true;
  const check = (passed: boolean, what: string): void => {
    ok &&= passed;
    lines.push(`${passed ? 'ok    ' : 'FAILED'} ${what}`);
  };
  const chat = await startAiChat({ port: 0, env: options.env ?? process.env, logger: silentLogger });
  const runtime = chat.endpoint.runtime.name;
  const timeoutMs = options.timeoutMs ?? 60_000;
  let client: TestClient | undefined;
  try {
    client = await connectTestClient(`${chat.url}ai/chat`, 'websocket');
    const frames = await answer(client, 'Hello! What can you do?', timeoutMs);
    const text = frames.map((f) => (f.type === 'streaming-text' ? f.data : '')).join('');
    const last = frames.at(-1);
    check(last?.type === 'complete', `the answer completed (${last?.type ?? 'no end'})`);
    check(
      frames.filter((f) => f.type === 'streaming-text').length > 1,
      `the text streamed in ${frames.length} frames`,
    );
    check(text.trim().length > 0, `the answer has text: ${JSON.stringify(text.slice(0, 80))}…`);
    check(
      frames.every((f, i) => f.seq === i + 1),
      'seq counts 1, 2, 3… with no gap',
    );
    check(
      frames.some((f) => f.type === 'progress'),
      'a progress frame arrived',
    );
    if (runtime === 'demo') {
      check(text.includes('LLM_API_KEY'), 'the demo model says how to configure a real one');
      const tool = await answer(client, "What's the weather in Montreal?", timeoutMs);
      const started = tool.find((f) => f.type === 'event' && f.event === 'tool-start');
      const result = tool.find((f) => f.type === 'event' && f.event === 'tool-result');
      check(started !== undefined && result !== undefined, 'the weather tool ran (tool-start, tool-result)');
      check(tool.at(-1)?.type === 'complete', 'the tool answer completed');
    }
  } catch (error) {
    check(false, `the check failed: ${(error as Error).message}`);
  } finally {
    await client?.close().catch(() => undefined);
    await chat.close();
  }
  return { ok, runtime, lines };
}
