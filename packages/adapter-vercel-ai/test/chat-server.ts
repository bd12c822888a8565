import { aiEndpoint, type AiEndpointHandle, InMemoryConversationMemory } from '@atmosphere/ai';
import type { Atmosphere, AtmosphereOptions } from '@atmosphere/runtime';
import { startTestAtmosphere } from '@atmosphere/runtime/testing';
import { tool } from 'ai';
import { z } from 'zod';
import {
  aiSdkTools,
  type UiMessageStreamEndpoint,
  uiMessageStreamEndpoint,
  vercelAiRuntime,
} from '../src/index.ts';
import { chatModel, type StoryGate } from './chat-model.ts';

/** An Atmosphere server with the chat endpoint `/ai/chat` on the AI SDK runtime over {@link chatModel}. */
export interface ChatServer {
  readonly atmosphere: Atmosphere;
  readonly endpoint: AiEndpointHandle;
  /** `/api/chat`: the AI SDK's DefaultChatTransport protocol, bridged to `/ai/chat`. */
  readonly http: UiMessageStreamEndpoint;
  /** `/api/chat-stop`: the same, stopping runs whose HTTP client goes away. */
  readonly httpStop: UiMessageStreamEndpoint;
  readonly memory: InMemoryConversationMemory;
  readonly gate: StoryGate;
  /** Calls of the weather tool, in order. */
  readonly weatherCalls: unknown[];
  url(path?: string): string;
  close(): Promise<void>;
}

export async function startChatServer(options: { atmosphere?: AtmosphereOptions } = {}): Promise<ChatServer> {
  const atmosphere = await startTestAtmosphere(options.atmosphere);
  const gate: StoryGate = { openAfter: undefined, open: () => undefined, delayMs: 0 };
  const memory = new InMemoryConversationMemory();
  const weatherCalls: unknown[] = [];
  const endpoint = aiEndpoint(atmosphere, {
    path: '/ai/chat',
    runtime: vercelAiRuntime({ model: chatModel(gate), maxRetries: 0 }),
    conversationMemory: memory,
    conversationId: (resource, metadata) =>
      typeof metadata['chatId'] === 'string' ? `chat:${metadata['chatId']}` : resource.id,
    tools: aiSdkTools({
      weather: tool({
        description: 'The weather in a city.',
        inputSchema: z.object({ city: z.string() }),
        needsApproval: true,
        execute: ({ city }) => {
          weatherCalls.push({ city });
          return { city, celsius: 21 };
        },
      }),
    }),
  });
  const http = uiMessageStreamEndpoint(atmosphere, { path: '/api/chat', endpoint: '/ai/chat' });
  const httpStop = uiMessageStreamEndpoint(atmosphere, {
    path: '/api/chat-stop',
    endpoint: '/ai/chat',
    onClientGone: 'stop',
  });
  return {
    atmosphere,
    endpoint,
    http,
    httpStop,
    memory,
    gate,
    weatherCalls,
    url: (path = '/ai/chat') => atmosphere.url(path),
    async close() {
      gate.open();
      await http.close();
      await httpStop.close();
      await endpoint.close();
      await atmosphere.close();
    },
  };
}
