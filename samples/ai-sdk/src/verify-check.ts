import { AtmosphereChatTransport } from '@atmosphere/adapter-vercel-ai/chat';
import { Atmosphere } from '@atmosphere/client';
import { type ChatTransport, DefaultChatTransport, readUIMessageStream, type UIMessage } from 'ai';
import type { AiSdkSample } from './server.ts';

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`verify: ${message}`);
}

const user = (text: string): UIMessage => ({
  id: `u-${text}`,
  role: 'user',
  parts: [{ type: 'text', text }],
});
const textOf = (message: UIMessage | undefined): string =>
  message?.parts.map((part) => (part.type === 'text' ? part.text : '')).join('') ?? '';

async function ask(
  transport: ChatTransport<UIMessage>,
  chatId: string,
  messages: UIMessage[],
  start?: UIMessage,
): Promise<UIMessage | undefined> {
  const stream = await transport.sendMessages({
    trigger: 'submit-message',
    chatId,
    messageId: undefined,
    messages,
    abortSignal: AbortSignal.timeout(20_000),
  });
  let last = start;
  for await (const message of readUIMessageStream({ stream, ...(start ? { message: start } : {}) }))
    last = message;
  return last;
}

/** Answers the approval of the message's weather call as `useChat`'s `addToolApprovalResponse` does. */
function approve(message: UIMessage): UIMessage {
  return {
    ...message,
    parts: message.parts.map((part) => {
      const tool = part as { type: string; state?: string; approval?: { id: string } };
      return tool.type === 'tool-weather' && tool.state === 'approval-requested'
        ? { ...part, state: 'approval-responded', approval: { id: tool.approval!.id, approved: true } }
        : part;
    }) as UIMessage['parts'],
  };
}

/**
 * Checks a running sample the way its page uses it, and returns the steps that passed: the page is served;
 * useChat's Atmosphere transport streams an answer (`answer`, when given, is the exact text expected) and runs
 * the weather tool only once approved; the stock DefaultChatTransport gets the same answer from `/api/chat`.
 */
export async function verifyAiSdk(app: AiSdkSample, options: { answer?: string } = {}): Promise<string[]> {
  const steps: string[] = [];
  const page = await fetch(app.url);
  const html = await page.text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  check(page.ok && script !== undefined, 'the page is served with its script');
  check((await fetch(new URL(script, app.url))).ok, `the page's script ${script} is served`);
  steps.push('the page is served with its script');

  const client = new Atmosphere();
  try {
    const atmosphere = new AtmosphereChatTransport({
      url: new URL('/ai/chat', app.url).href,
      atmosphere: client,
      storage: null,
    });
    const answer = textOf(await ask(atmosphere, 'verify-hello', [user('Hello!')]));
    check(answer.trim() !== '', 'the Atmosphere transport streams an answer');
    if (options.answer !== undefined)
      check(
        answer === options.answer,
        `/ai/chat answers ${JSON.stringify(options.answer)}, got ${JSON.stringify(answer)}`,
      );
    steps.push('useChat over AtmosphereChatTransport streams an answer');

    const before = app.weatherCalls.length;
    const paused = await ask(atmosphere, 'verify-weather', [user('What is the weather in Montreal?')]);
    const asked = paused?.parts.some((part) => (part as { state?: string }).state === 'approval-requested');
    check(paused !== undefined && asked === true, 'the weather tool asks for approval');
    check(app.weatherCalls.length === before, 'the weather tool does not run before the approval');
    const answered = approve(paused);
    const done = await ask(
      atmosphere,
      'verify-weather',
      [user('What is the weather in Montreal?'), answered],
      answered,
    );
    check(app.weatherCalls.length === before + 1, 'the approved weather tool runs once');
    check(
      textOf(done).includes('21'),
      `the answer uses the tool's result, got ${JSON.stringify(textOf(done))}`,
    );
    steps.push('a tool call waits for approval, then runs and the answer goes on');
    atmosphere.close();
  } finally {
    await client.closeAll();
  }

  const stock = new DefaultChatTransport<UIMessage>({ api: new URL('/api/chat', app.url).href });
  const stockAnswer = textOf(await ask(stock, 'verify-stock', [user('Hello!')]));
  check(stockAnswer.trim() !== '', 'the stock DefaultChatTransport gets an answer from /api/chat');
  if (options.answer !== undefined)
    check(
      stockAnswer === options.answer,
      `/api/chat answers ${JSON.stringify(options.answer)}, got ${JSON.stringify(stockAnswer)}`,
    );
  steps.push("the SDK's DefaultChatTransport gets the same endpoint's answer from /api/chat");
  return steps;
}
