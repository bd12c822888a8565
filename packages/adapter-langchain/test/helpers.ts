import type { BaseMessage } from '@langchain/core/messages';
import type { Callbacks } from '@langchain/core/callbacks/manager';
import { ChatOpenAI } from '@langchain/openai';

const ROLES: Record<string, string> = { system: 'system', human: 'user', ai: 'assistant', tool: 'tool' };

/** A callback handler that records the messages of each chat model call (what the model received). */
export function recordingCallbacks(): {
  callbacks: Callbacks;
  last(): { role: string; content: unknown }[] | undefined;
  calls: BaseMessage[][];
} {
  const calls: BaseMessage[][] = [];
  return {
    calls,
    callbacks: [
      {
        handleChatModelStart(_llm: unknown, messages: BaseMessage[][]) {
          calls.push(messages[0] ?? []);
        },
      },
    ],
    last: () => calls.at(-1)?.map((m) => ({ role: ROLES[m.type] ?? m.type, content: m.content })),
  };
}

/** ChatOpenAI pointed at a replay server (no retries: the error scenario must fail at once). */
export function chatOpenAi(baseUrl: string): ChatOpenAI {
  return new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: 'sk-contract-0000000000000000',
    configuration: { baseURL: baseUrl },
    maxRetries: 0,
    streaming: true,
    streamUsage: true,
  });
}
