import {
  connectTestClient,
  eventually,
  type TestClient,
  type TestClientOptions,
  type TestTransport,
} from '@atmosphere/runtime/testing';
import {
  type AiFrame,
  type AiRole,
  APPROVAL_PREFIX,
  parseAiFrame,
  parseRoleMessage,
  steerMessage,
  STOP_PREFIX,
} from '@atmosphere/protocol';
import { type AiAnswer, answerOf, isTerminalFrame } from './answers.ts';

/** A protocol client for AI endpoints (tests, samples' self-checks, benchmarks), over any transport. */
export interface AiTestClient {
  /** The underlying protocol client (`cut()`, `close()`, `trackingId`, `received`…). */
  readonly client: TestClient;
  /** Every AI frame received so far, in order (other messages skipped). */
  frames(): AiFrame[];
  /** Sends a prompt (plain text; pass JSON text for the JSON form). */
  prompt(text: string): Promise<number>;
  /** Answers an approval: approve (optionally with edited arguments) or deny. */
  approve(approvalId: string, args?: Record<string, unknown>): Promise<number>;
  deny(approvalId: string): Promise<number>;
  /** Asks the server to stop a run (`/__stop/<runId>`). */
  stop(runId: string): Promise<number>;
  /** Sends guidance to a running answer (`/__steer/<runId>/<steerId> <text>`). */
  steer(runId: string, steerId: string, text: string): Promise<number>;
  /** Waits for the role the server gave this connection in a run (its `ai-role` message). */
  role(runId: string, timeoutMs?: number): Promise<AiRole>;
  /** Waits for the next session to end (or the given one) and returns its frames, summarised. */
  answer(sessionId?: string, timeoutMs?: number): Promise<AiAnswer>;
  /** Waits for a frame matching the predicate (not yet consumed by `waitFor`/`answer`). */
  waitFor(predicate: (frame: AiFrame) => boolean, timeoutMs?: number): Promise<AiFrame>;
  close(): Promise<void>;
}

/** Connects an {@link AiTestClient} to an AI endpoint's URL. */
export async function connectAiClient(
  url: string,
  transport: TestTransport = 'websocket',
  options: TestClientOptions = {},
): Promise<AiTestClient> {
  // Like @atmosphere/client, report the received count from the first connection on, so the server keeps
  // what it writes until the client confirms it (exact replay after a cut).
  const client = await connectTestClient(url, transport, { received: 0, ...options });
  return wrapAiClient(client);
}

/** Wraps a connected protocol client. */
export function wrapAiClient(client: TestClient): AiTestClient {
  const frames = (): AiFrame[] => {
    const out: AiFrame[] = [];
    for (const message of client.messages.items) {
      const frame = parseAiFrame(message);
      if (frame) out.push(frame);
    }
    return out;
  };
  const waitFor = async (predicate: (frame: AiFrame) => boolean, timeoutMs?: number): Promise<AiFrame> => {
    const message = await client.messages.waitFor((m) => {
      const frame = parseAiFrame(m);
      return frame !== undefined && predicate(frame);
    }, timeoutMs);
    return parseAiFrame(message)!;
  };
  return {
    client,
    frames,
    prompt: (text) => client.send(text),
    approve: (id, args) =>
      client.send(`${APPROVAL_PREFIX}${id}/approve${args ? ` ${JSON.stringify({ arguments: args })}` : ''}`),
    deny: (id) => client.send(`${APPROVAL_PREFIX}${id}/deny`),
    stop: (runId) => client.send(`${STOP_PREFIX}${runId}`),
    steer: (runId, steerId, text) => client.send(steerMessage(runId, steerId, text)),
    async role(runId, timeoutMs) {
      // Read without consuming: frames around it stay for waitFor/answer.
      let role: AiRole | undefined;
      await eventually(
        () => {
          for (const message of client.messages.items) {
            const read = parseRoleMessage(message);
            if (read?.runId === runId) role = read.role;
          }
          return role !== undefined;
        },
        `the role in run ${runId}`,
        timeoutMs,
      );
      return role!;
    },
    async answer(sessionId, timeoutMs = 10_000) {
      const end = await waitFor(
        (f) => isTerminalFrame(f) && (sessionId === undefined || f.sessionId === sessionId),
        timeoutMs,
      );
      return answerOf(frames(), end.sessionId);
    },
    waitFor,
    close: () => client.close(),
  };
}
