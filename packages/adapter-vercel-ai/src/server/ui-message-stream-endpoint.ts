import type { IncomingMessage, ServerResponse } from 'node:http';
import { Atmosphere as AtmosphereClient, type AtmosphereRequest } from '@atmosphere/client';
import { parseUntrustedJson } from '@atmosphere/protocol';
import type { Atmosphere, HttpRoute } from '@atmosphere/runtime';
import { AtmosphereError } from '@atmosphere/runtime';
import type { UIMessage, UIMessageChunk } from 'ai';
import {
  AtmosphereChatTransport,
  type PromptBuilder,
  type RunStorage,
} from '../chat/atmosphere-chat-transport.ts';

/** Options of {@link uiMessageStreamEndpoint}. */
export interface UiMessageStreamEndpointOptions {
  /**
   * The HTTP path the AI SDK's `DefaultChatTransport` posts to (its `api`, e.g. `/api/chat`). Resumes are
   * `GET <path>/<chatId>/stream`, the SDK's default reconnect URL.
   */
  readonly path: string;
  /** The Atmosphere AI endpoint that answers (`aiEndpoint({ path })`): a path of this server, or an absolute URL. */
  readonly endpoint: string;
  /**
   * The Atmosphere request of a chat's connection to the endpoint, from the HTTP request that opened the chat
   * (forward its credentials here: `authToken`, `headers`). Default: WebSocket, no fallback.
   */
  readonly request?: (request: IncomingMessage) => Omit<AtmosphereRequest, 'url' | 'runId'> | undefined;
  /**
   * May this HTTP request use chat `chatId`? Called for every post and resume; false answers 403. Default: anyone
   * who knows the chat id (a random id made by `useChat`) may — check the user here when chats are private.
   */
  readonly authorize?: (request: IncomingMessage, chatId: string) => boolean | Promise<boolean>;
  /** Builds the prompt from the posted messages. Default: the last user message's text, metadata `{ chatId, trigger }`. */
  readonly prompt?: PromptBuilder<UIMessage>;
  /**
   * When the HTTP client goes away in the middle of an answer: `continue` (default) lets the run go on, so a
   * reload or a network cut resumes it (`GET …/stream`); `stop` stops it, as `useChat`'s `stop()` means. The
   * stock transport cannot tell the two apart.
   */
  readonly onClientGone?: 'continue' | 'stop';
  /** Largest request body in bytes. Default 1 MiB (413 beyond). */
  readonly maxBodyBytes?: number;
  /** Chats open at once (each holds one connection to the endpoint). Default 1000 (503 beyond). */
  readonly maxChats?: number;
  /** A chat's connection closes after this long without a request or a chunk. Default 300 000 ms. */
  readonly idleTimeoutMs?: number;
}

/** A registered UI message stream endpoint. */
export interface UiMessageStreamEndpoint {
  readonly path: string;
  /** Chats with an open connection to the AI endpoint. */
  readonly chats: number;
  /** Unregisters the routes and closes every chat's connection. Idempotent. */
  close(): Promise<void>;
}

interface Chat {
  readonly transport: AtmosphereChatTransport;
  lastActivity: number;
  open: number;
}

const CHAT_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** The header that tells the AI SDK the body is a UI message stream. */
const STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
  'X-Vercel-AI-UI-Message-Stream': 'v1',
  'X-Accel-Buffering': 'no',
} as const;

function sendJson(response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

/** The body's text, or `undefined` when it is larger than `limit` bytes (the rest is read and dropped). */
function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      if (!over) chunks.push(chunk);
    });
    request.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Validates the body `DefaultChatTransport` posts: `{ id, messages, trigger, messageId, … }`. */
function readChatRequest(value: unknown):
  | {
      ok: true;
      chatId: string;
      messages: UIMessage[];
      trigger: 'submit-message' | 'regenerate-message';
      messageId: string | undefined;
      body: Record<string, unknown>;
    }
  | { ok: false; message: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, message: 'The body must be a JSON object { id, messages, trigger }.' };
  const body = value as Record<string, unknown>;
  const chatId = body['id'];
  if (typeof chatId !== 'string' || !CHAT_ID.test(chatId))
    return { ok: false, message: 'The chat `id` must match [A-Za-z0-9_-]{1,128}.' };
  const messages = body['messages'];
  if (
    !Array.isArray(messages) ||
    messages.some(
      (m) => typeof m !== 'object' || m === null || !Array.isArray((m as { parts?: unknown }).parts),
    )
  )
    return { ok: false, message: '`messages` must be an array of UI messages (each with `parts`).' };
  const trigger = body['trigger'] === 'regenerate-message' ? 'regenerate-message' : 'submit-message';
  const messageId = typeof body['messageId'] === 'string' ? body['messageId'] : undefined;
  return { ok: true, chatId, messages: messages as UIMessage[], trigger, messageId, body };
}

/**
 * Lets an app keep the AI SDK's stock `useChat` + `DefaultChatTransport` and still be served by an Atmosphere AI
 * endpoint (its runtime, tools and approvals, memory, interceptors, filters, cache and clustering): the UI message
 * stream protocol over HTTP/SSE on `path` (`POST` a chat request, `GET <path>/<chatId>/stream` to resume), bridged
 * to the endpoint over an Atmosphere connection per chat. A post streams the run as UI message chunks; a post
 * whose last assistant message answers an approval answers it and streams the rest of the run; a resume replays
 * the chat's current run from its start (the SDK's `resumeStreamIsReplay`) and follows it, or answers 204.
 * Bad input is refused with 400/405/413 and a JSON `{ error }`; other chats are unaffected.
 */
export function uiMessageStreamEndpoint(
  atmosphere: Atmosphere,
  options: UiMessageStreamEndpointOptions,
): UiMessageStreamEndpoint {
  if (typeof options.path !== 'string' || !options.path.startsWith('/'))
    throw new AtmosphereError(
      'INVALID_OPTION',
      'uiMessageStreamEndpoint needs a `path` starting with "/" (e.g. /api/chat).',
    );
  if (typeof options.endpoint !== 'string' || options.endpoint === '')
    throw new AtmosphereError(
      'INVALID_OPTION',
      'uiMessageStreamEndpoint needs the `endpoint` of an aiEndpoint (its path, e.g. /ai/chat).',
    );
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxChats = options.maxChats ?? 1000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  const client = new AtmosphereClient();
  const chats = new Map<string, Chat>();
  const runs = new Map<string, string>();
  const storage: RunStorage = {
    getItem: (key) => runs.get(key) ?? null,
    setItem: (key, value) => void runs.set(key, value),
    removeItem: (key) => void runs.delete(key),
  };
  let closed = false;
  const endpointUrl = (): string =>
    /^[a-z]+:\/\//i.test(options.endpoint) ? options.endpoint : atmosphere.url(options.endpoint);

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, chat] of chats)
        if (chat.open === 0 && now - chat.lastActivity > idleTimeoutMs) {
          chats.delete(id);
          chat.transport.close();
        }
    },
    Math.max(1000, Math.min(idleTimeoutMs / 2, 30_000)),
  );
  sweep.unref();

  const chatOf = (id: string, request: IncomingMessage): Chat | undefined => {
    let chat = chats.get(id);
    if (chat) return chat;
    if (chats.size >= maxChats) return undefined;
    chat = {
      transport: new AtmosphereChatTransport({
        url: endpointUrl(),
        atmosphere: client,
        storage,
        request: { transport: 'websocket', fallbackTransport: [], ...options.request?.(request) },
        ...(options.prompt ? { prompt: options.prompt } : {}),
      }),
      lastActivity: Date.now(),
      open: 0,
    };
    chats.set(id, chat);
    return chat;
  };

  /** Writes the chunks as SSE events (`data: <json>`), then `data: [DONE]`. */
  const pipe = async (
    chat: Chat,
    stream: ReadableStream<UIMessageChunk>,
    response: ServerResponse,
    controller: AbortController | undefined,
  ): Promise<void> => {
    chat.open++;
    response.writeHead(200, STREAM_HEADERS);
    response.flushHeaders();
    const reader = stream.getReader();
    let finished = false;
    response.on('close', () => {
      if (finished) return;
      if (options.onClientGone === 'stop') controller?.abort();
      void reader.cancel().catch(() => undefined);
    });
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chat.lastActivity = Date.now();
        if (!response.writable) break;
        response.write(`data: ${JSON.stringify(value)}\n\n`);
      }
      finished = true;
      if (response.writable) response.end('data: [DONE]\n\n');
    } catch {
      finished = true;
      response.destroy();
    } finally {
      chat.open--;
      chat.lastActivity = Date.now();
    }
  };

  const allowed = async (
    request: IncomingMessage,
    response: ServerResponse,
    chatId: string,
  ): Promise<boolean> => {
    if (!options.authorize || (await options.authorize(request, chatId))) return true;
    sendJson(response, 403, `This request may not use chat ${chatId}.`);
    return false;
  };

  const post = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (closed) return sendJson(response, 503, 'The chat endpoint is closed.');
    if (request.method !== 'POST') {
      response.setHeader('Allow', 'POST');
      return sendJson(
        response,
        405,
        `Use POST on ${options.path} (GET ${options.path}/<chatId>/stream resumes).`,
      );
    }
    const text = await readBody(request, maxBody);
    if (text === undefined)
      return sendJson(
        response,
        413,
        `The request body is larger than ${maxBody} bytes (option maxBodyBytes).`,
      );
    let parsed: ReturnType<typeof readChatRequest>;
    try {
      parsed = readChatRequest(parseUntrustedJson(text));
    } catch (error) {
      return sendJson(response, 400, (error as Error).message);
    }
    if (!parsed.ok) return sendJson(response, 400, parsed.message);
    if (!(await allowed(request, response, parsed.chatId))) return;
    const chat = chatOf(parsed.chatId, request);
    if (!chat)
      return sendJson(response, 503, `${maxChats} chats are open; try again later (option maxChats).`);
    chat.lastActivity = Date.now();
    const controller = new AbortController();
    let stream: ReadableStream<UIMessageChunk>;
    try {
      stream = await chat.transport.sendMessages({
        trigger: parsed.trigger,
        chatId: parsed.chatId,
        messageId: parsed.messageId,
        messages: parsed.messages,
        abortSignal: controller.signal,
        body: parsed.body,
      });
    } catch (error) {
      return sendJson(response, 400, (error as Error).message);
    }
    await pipe(chat, stream, response, controller);
  };

  const resume = async (
    request: IncomingMessage,
    response: ServerResponse,
    params: Readonly<Record<string, string>>,
  ): Promise<void> => {
    const chatId = params['chatId'] ?? '';
    if (request.method !== 'GET') {
      response.setHeader('Allow', 'GET');
      return sendJson(response, 405, 'Use GET to resume a chat stream.');
    }
    if (!CHAT_ID.test(chatId)) return sendJson(response, 400, 'The chat id must match [A-Za-z0-9_-]{1,128}.');
    if (!(await allowed(request, response, chatId))) return;
    const chat = chats.get(chatId);
    const stream = chat ? await chat.transport.reconnectToStream({ chatId }) : null;
    if (!chat || !stream) {
      response.writeHead(204);
      response.end();
      return;
    }
    chat.lastActivity = Date.now();
    await pipe(chat, stream, response, undefined);
  };

  const routes: HttpRoute[] = [
    atmosphere.handle(options.path, { request: (request, response) => post(request, response) }),
    atmosphere.handle(`${options.path.replace(/\/$/, '')}/{chatId}/stream`, {
      request: (request, response, params) => resume(request, response, params),
    }),
  ];

  return {
    path: options.path,
    get chats() {
      return chats.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      for (const route of routes) route.remove();
      for (const chat of chats.values()) chat.transport.close();
      chats.clear();
      await client.closeAll();
    },
  };
}
