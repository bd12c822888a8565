import { AtmosphereChatTransport } from '../../../src/chat/index.ts';
import { type ChatTransport, DefaultChatTransport, type UIMessage } from 'ai';

/**
 * The page's settings, from its query string: `transport=atmosphere|default`, `chat=<id>`, `api=<path>`
 * (the DefaultChatTransport's endpoint), `wire=websocket|sse|long-polling` (the Atmosphere transport's).
 */
export const params = new URLSearchParams(location.search);
export const chatId = params.get('chat') ?? 'chat';

export function makeTransport(): ChatTransport<UIMessage> {
  if (params.get('transport') === 'default')
    return new DefaultChatTransport<UIMessage>({ api: params.get('api') ?? '/api/chat' });
  const wire = (params.get('wire') ?? 'websocket') as 'websocket' | 'sse' | 'long-polling';
  return new AtmosphereChatTransport<UIMessage>({
    url: '/ai/chat',
    request: { transport: wire, reconnectInterval: 100 },
  });
}

/** Messages kept across reloads: saved when no answer is streaming (a streaming answer is resumed instead). */
const KEY = `messages:${chatId}`;
export function savedMessages(): UIMessage[] {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as UIMessage[];
  } catch {
    return [];
  }
}
export function saveMessages(messages: readonly UIMessage[], status: string): void {
  if (status === 'submitted' || status === 'ready' || status === 'error')
    sessionStorage.setItem(
      KEY,
      JSON.stringify(messages.filter((m) => status === 'ready' || m.role === 'user')),
    );
}

/** What the test reads: the status and each message's text and tool parts. */
export function snapshot(messages: readonly UIMessage[], status: string, error: Error | undefined) {
  return {
    status,
    error: error?.message,
    messages: messages.map((m) => ({
      role: m.role,
      text: m.parts.map((p) => (p.type === 'text' ? p.text : '')).join(''),
      tools: m.parts
        .filter((p) => p.type.startsWith('tool-'))
        .map((p) => {
          const part = p as { type: string; state: string; output?: unknown };
          return { type: part.type, state: part.state, output: part.output };
        }),
    })),
  };
}
