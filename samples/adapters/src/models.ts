import type { GoogleGenAiClientLike } from '@atmosphere/adapter-google-genai';
import type { GenerateContentResponse } from '@google/genai';
import { dispatchCustomEvent } from '@langchain/core/callbacks/dispatch';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';

/** The chat model behind `/ai/langchain`: ChatOpenAI with OPENAI_API_KEY, else LangChain's streaming fake. */
export function langChainModel(env: Readonly<Record<string, string | undefined>>): BaseChatModel {
  const key = env['OPENAI_API_KEY'];
  if (key) return new ChatOpenAI({ model: env['OPENAI_MODEL'] ?? 'gpt-4o-mini', apiKey: key });
  return new FakeListChatModel({
    responses: [
      "This answer comes from LangChain's FakeListChatModel, streamed through Atmosphere one piece at a time. Set OPENAI_API_KEY to talk to ChatOpenAI instead.",
    ],
    sleep: 2,
  });
}

const CITIES: Readonly<Record<string, number>> = { montreal: 21, paris: 18, tokyo: 26 };

/** The tool of the LangGraph agent: a weather lookup that reports its progress. */
export const weatherTool = tool(
  async ({ city }: { city: string }) => {
    await dispatchCustomEvent('progress', `Looking up the weather in ${city}…`);
    const celsius = CITIES[city.toLowerCase()];
    return celsius === undefined ? `No weather for ${city}.` : `${celsius}°C in ${city}`;
  },
  {
    name: 'get_weather',
    description: 'The current weather in a city.',
    schema: z.object({ city: z.string().describe('The city') }),
  },
);

/** A fake tool-calling model for one question: asks for the weather of the city named, then answers. */
function fakeAgentModel(question: string) {
  const city = /(montreal|paris|tokyo)/i.exec(question)?.[1] ?? 'Montreal';
  return fakeModel()
    .respond(
      new AIMessage({
        content: '',
        tool_calls: [{ name: 'get_weather', args: { city }, id: 'call_sample_1', type: 'tool_call' }],
      }),
    )
    .respond((messages: BaseMessage[]) => {
      const result = messages.at(-1)?.content;
      return new AIMessage(`The graph looked it up: ${typeof result === 'string' ? result : city}.`);
    });
}

/** A LangGraph agent (model ⇄ tools) for one question: ChatOpenAI with OPENAI_API_KEY, else a fake model. */
export function weatherGraph(env: Readonly<Record<string, string | undefined>>, question: string) {
  const key = env['OPENAI_API_KEY'];
  const model = key
    ? new ChatOpenAI({ model: env['OPENAI_MODEL'] ?? 'gpt-4o-mini', apiKey: key }).bindTools([weatherTool])
    : fakeAgentModel(question).bindTools([weatherTool]);
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', async (state) => ({ messages: [await model.invoke(state.messages)] }))
    .addNode('tools', new ToolNode([weatherTool]))
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', toolsCondition, ['tools', END])
    .addEdge('tools', 'agent')
    .compile();
}

/**
 * A stand-in for the `GoogleGenAI` client when GEMINI_API_KEY is not set: answers every request with a short
 * stream of Gemini responses (text chunks, usage metadata), stopping when the signal aborts. Clearly a demo.
 */
export function fakeGeminiClient(): GoogleGenAiClientLike {
  const words =
    'This answer comes from a stand-in Gemini client that streams like generateContentStream. Set GEMINI_API_KEY to talk to Gemini instead.'.split(
      ' ',
    );
  return {
    models: {
      async generateContentStream(parameters) {
        const signal = parameters.config?.abortSignal;
        async function* stream(): AsyncGenerator<GenerateContentResponse> {
          for (const [index, word] of words.entries()) {
            if (signal?.aborted) return;
            await new Promise((resolve) => setTimeout(resolve, 2));
            const last = index === words.length - 1;
            yield {
              candidates: [
                {
                  content: { role: 'model', parts: [{ text: index === 0 ? word : ` ${word}` }] },
                  index: 0,
                  ...(last ? { finishReason: 'STOP' } : {}),
                },
              ],
              usageMetadata: {
                promptTokenCount: 12,
                candidatesTokenCount: index + 1,
                totalTokenCount: 13 + index,
              },
            } as GenerateContentResponse;
          }
        }
        return stream();
      },
    },
  };
}
