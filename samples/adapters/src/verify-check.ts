import { connectAiClient } from '@atmosphere/ai/testing';
import { silentLogger } from '@atmosphere/runtime';
import { startAdapters } from './server.ts';

/** What the check found. */
export interface VerifyResult {
  readonly ok: boolean;
  /** One line per check, `ok` or `FAILED`, with what was seen. */
  readonly lines: readonly string[];
}

/**
 * Starts the sample on a free port and asks each endpoint a question with a protocol client (WebSocket for
 * LangChain and Gemini, SSE for LangGraph): each answer must stream and complete; the graph's must show its
 * steps, its tool call and its progress. Never throws.
 */
export async function verifyAdapters(
  options: { env?: Readonly<Record<string, string | undefined>>; timeoutMs?: number } = {},
): Promise<VerifyResult> {
  const lines: string[] = [];
  let ok = true;
  const check = (passed: boolean, what: string): void => {
    ok &&= passed;
    lines.push(`${passed ? 'ok    ' : 'FAILED'} ${what}`);
  };
  const timeoutMs = options.timeoutMs ?? 60_000;
  const sample = await startAdapters({ port: 0, env: options.env ?? process.env, logger: silentLogger });
  try {
    for (const [name, transport] of [
      ['langchain', 'websocket'],
      ['gemini', 'websocket'],
    ] as const) {
      const client = await connectAiClient(sample.url(`/ai/${name}`), transport);
      try {
        await client.prompt('Hello! Who is answering?');
        const answer = await client.answer(undefined, timeoutMs);
        const pieces = answer.frames.filter((f) => f.type === 'streaming-text').length;
        check(answer.end?.type === 'complete', `${name} (${sample.models[name]}): the answer completed`);
        check(
          pieces > 1,
          `${name}: the text streamed in ${pieces} pieces: ${JSON.stringify(answer.text.slice(0, 60))}…`,
        );
      } finally {
        await client.close();
      }
    }
    const client = await connectAiClient(sample.url('/ai/langgraph'), 'sse');
    try {
      await client.prompt("What's the weather in Paris?");
      const answer = await client.answer(undefined, timeoutMs);
      check(answer.end?.type === 'complete', `langgraph (${sample.models.langgraph}): the answer completed`);
      const steps = answer.events('agent-step').map((s) => s.stepName);
      check(steps.includes('agent') && steps.includes('tools'), `langgraph: steps ${steps.join(' → ')}`);
      const started = answer.events('tool-start').map((t) => t.toolName);
      const results = answer.events('tool-result').map((t) => String(t.result));
      check(
        started.includes('get_weather') && results.length === started.length,
        `langgraph: tool ${started.join(', ')} → ${results.join(', ')}`,
      );
      check(
        answer.frames.some((f) => f.type === 'progress'),
        'langgraph: the tool reported its progress',
      );
      check(
        answer.text.trim().length > 0,
        `langgraph: the answer has text: ${JSON.stringify(answer.text.slice(0, 60))}`,
      );
    } finally {
      await client.close();
    }
  } catch (error) {
    check(false, `the check failed: ${(error as Error).message}`);
  } finally {
    await sample.close();
  }
  return { ok, lines };
}
