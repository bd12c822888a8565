import { nextSteerId } from './steer-id.ts';
import { atmosphere as defaultClient, type Atmosphere } from '../core/atmosphere.ts';
import type { AtmosphereMessage } from '../core/events.ts';
import type { AtmosphereRequest } from '../core/request.ts';
import type { Subscription } from '../core/subscription.ts';
import type { AtmosphereClientError } from '../errors.ts';
import {
  type AiEventName,
  type AiFrame,
  type AiRole,
  approvalMessage,
  type PromptAttachment,
  parseAiFrame,
  parseRoleMessage,
  RUN_ID_METADATA_KEY,
  steerMessage,
  stopMessage,
} from '@atmosphere/protocol';
import { type ApprovalRequest, readApproval } from './approval.ts';
import { FrameDeduplicator } from './deduplicator.ts';

/** An `event` frame, as handed to `onEvent` (a server may send event names beyond the protocol's). */
export interface ReceivedAiEvent {
  readonly event: AiEventName | (string & {});
  readonly data: unknown;
  readonly sessionId: string;
  readonly seq: number;
}

/** What the AI stream reports. Every frame arrives once, in order (duplicates are dropped). */
export interface StreamingHandlers {
  /** Text of a `streaming-text` frame. */
  onToken?(text: string, frame: AiFrame): void;
  onProgress?(message: string, frame: AiFrame): void;
  onMetadata?(key: string, value: unknown, frame: AiFrame): void;
  /** Any `event` frame (tool-start, tool-result, agent-step, …). */
  onEvent?(event: ReceivedAiEvent): void;
  /** A tool call waits for approval: answer with `approval.approve()` / `approval.deny()`. */
  onApprovalRequired?(approval: ApprovalRequest): void;
  /**
   * An approval was decided (by this client, another tab, or a timeout): it is no longer to be asked. A replayed
   * run (a reload, a re-attach) brings the decision right after the request.
   */
  onApprovalAnswered?(approvalId: string, approved: boolean): void;
  /** The session completed (`data`: the summary, when given; `frame.reason` is `stopped` after a stop). */
  onComplete?(summary: string | undefined, frame: AiFrame): void;
  /** The session failed (an `error` frame). */
  onError?(message: string, frame: AiFrame): void;
  /**
   * The server refused a message this client sent while a run is running (a stop, steer or approval its role
   * does not allow: `FORBIDDEN`; an unknown approval…): a one-frame `error` session that does not end the run.
   */
  onRefused?(code: string | undefined, message: string, frame: AiFrame): void;
  /** The server told this connection its role in a run (`viewer`, `steerer`, `approver`, `owner`). */
  onRole?(role: AiRole, runId: string): void;
  /** A connection-level error (the subscription's `error` event). */
  onConnectionError?(error: AtmosphereClientError): void;
  /** Every accepted frame, before the specific handler. */
  onFrame?(frame: AiFrame): void;
  /** A message that is not an AI frame. */
  onMessage?(message: AtmosphereMessage): void;
}

/** What goes with a prompt: routing hints, images. */
export interface SendOptions {
  readonly maxCost?: number;
  readonly maxLatencyMs?: number;
  /**
   * Images sent with a text prompt (`{ type: 'image', mediaType, data }`, the bytes in base64), as JSON
   * `{"prompt":…,"attachments":[…]}` (an object prompt carries its own). The endpoint checks them (an `INVALID_ATTACHMENT` error frame) and refuses
   * them when its runtime cannot read images (`UNSUPPORTED_ATTACHMENT`).
   */
  readonly attachments?: readonly PromptAttachment[];
}

/** A live AI stream. */
export interface StreamingHandle {
  readonly subscription: Subscription;
  /** The session of the last frame, until a frame of another session arrives. */
  readonly sessionId: string | undefined;
  /** Sends a prompt: a string as is, an object as JSON (with `hints` when routing options are given). */
  send: (prompt: string | object, options?: SendOptions) => void;
  /** Approves a pending tool call, optionally with edited arguments. */
  approve: (approvalId: string, editedArguments?: Readonly<Record<string, unknown>>) => void;
  /** Denies a pending tool call. */
  deny: (approvalId: string) => void;
  /**
   * Stops the run being answered: the server aborts the model call and ends the run with a `complete` frame
   * whose `reason` is `stopped` (the text so far stands). Unlike closing, the connection stays. Returns false
   * when no run is known to be running.
   */
  stop: () => boolean;
  /**
   * Sends guidance to the run being answered; the server adds it at the next step boundary and acknowledges
   * it with `steer` events (`accepted`, `applied` or `unused`) carrying the returned id. Returns undefined
   * when no run is known to be running. Needs the role `steerer`, `approver` or `owner`.
   */
  steer: (text: string) => string | undefined;
  /** The run being answered (from its `X-Atmosphere-Run-Id` metadata), until its terminal frame. */
  readonly runId: string | undefined;
  /**
   * This connection's role in the last run the server named one for (`viewer` may only watch, `steerer` may
   * also steer and stop, `approver` may also approve, `owner` may do all); undefined before any.
   */
  readonly role: AiRole | undefined;
  /**
   * Stops listening. Closes the subscription only when `subscribeStreaming` opened it (given a request);
   * a subscription passed in belongs to its caller.
   */
  close: () => Promise<void>;
}

/** True for a subscription (also one from another copy of the package), false for a request. */
export function isSubscription(value: AtmosphereRequest | Subscription): value is Subscription {
  return (
    typeof (value as Partial<Subscription>).on === 'function' &&
    typeof (value as Partial<Subscription>).push === 'function'
  );
}

/**
 * The payload of a prompt: as given, or with its routing hints and attachments — a text prompt wrapped in
 * `{"prompt":…}`, an object prompt (`{prompt, metadata, …}`) given them as members of its own.
 */
export function promptPayload(prompt: string | object, options: SendOptions = {}): string | object {
  const { maxCost, maxLatencyMs, attachments } = options;
  const hinted = (maxCost ?? maxLatencyMs) !== undefined;
  if (!hinted && !attachments?.length) return prompt;
  const payload: Record<string, unknown> = typeof prompt === 'string' ? { prompt } : { ...prompt };
  if (hinted) payload['hints'] = { maxCost, maxLatencyMs };
  if (attachments?.length) payload['attachments'] = attachments;
  return payload;
}

/**
 * Streams AI frames (PROTOCOL.md §7) from an endpoint: decodes them, drops duplicates by
 * `(sessionId, seq)` — so a stream resumed after a reconnect never shows a token twice — follows the run
 * id (`X-Atmosphere-Run-Id` metadata) so a reconnect re-attaches to the run, and offers the approval
 * answers. Give a request (a subscription is opened, owned by the handle) or an existing subscription.
 */
export function subscribeStreaming(
  target: AtmosphereRequest | Subscription,
  handlers: StreamingHandlers,
  options: { atmosphere?: Atmosphere } = {},
): StreamingHandle {
  const owned = !isSubscription(target);
  const subscription = isSubscription(target)
    ? target
    : (options.atmosphere ?? defaultClient).subscribe(target);
  const seen = new FrameDeduplicator();
  let sessionId: string | undefined;
  let runId: string | undefined;
  let runSessionId: string | undefined;
  let role: AiRole | undefined;
  const sendText = (text: string): void => subscription.push(text);

  const dispatch = (frame: AiFrame): void => {
    handlers.onFrame?.(frame);
    switch (frame.type) {
      case 'streaming-text':
        handlers.onToken?.(frame.data, frame);
        return;
      case 'progress':
        handlers.onProgress?.(frame.data, frame);
        return;
      case 'metadata':
        if (frame.key === RUN_ID_METADATA_KEY && typeof frame.value === 'string') {
          runId = frame.value;
          runSessionId = frame.sessionId;
          subscription.setRunId(frame.value);
        }
        handlers.onMetadata?.(frame.key, frame.value, frame);
        return;
      case 'complete':
        runId = undefined;
        subscription.setRunId(undefined);
        handlers.onComplete?.(frame.data, frame);
        return;
      case 'error':
        runId = undefined;
        subscription.setRunId(undefined);
        handlers.onError?.(frame.data, frame);
        return;
      case 'event': {
        handlers.onEvent?.({
          event: frame.event,
          data: frame.data,
          sessionId: frame.sessionId,
          seq: frame.seq,
        });
        if (frame.event === 'approval-required') {
          const id = (frame.data as { approvalId?: unknown } | null)?.approvalId;
          // Answered before (a reloaded page replays the answer from its start): not asked again.
          if (typeof id === 'string' && subscription.answeredApproval(id)) return;
          const approval = readApproval(frame.data, frame.sessionId, (text) => {
            subscription.answeredApproval(String(id), true);
            sendText(text);
          });
          if (approval) handlers.onApprovalRequired?.(approval);
        } else if (frame.event === 'approval-answered') {
          const data = frame.data as { approvalId?: unknown; approved?: unknown } | null;
          if (typeof data?.approvalId !== 'string') return;
          subscription.answeredApproval(data.approvalId, true);
          handlers.onApprovalAnswered?.(data.approvalId, data.approved === true);
        }
        return;
      }
    }
  };

  const offMessage = subscription.on('message', (message) => {
    const text = typeof message.responseBody === 'string' ? message.responseBody : undefined;
    const frame = text === undefined ? undefined : parseAiFrame(text);
    if (!frame) {
      const named = text === undefined ? undefined : parseRoleMessage(text);
      if (named) {
        role = named.role;
        handlers.onRole?.(named.role, named.runId);
        return;
      }
      handlers.onMessage?.(message);
      return;
    }
    if (!seen.accept(frame)) return;
    // A refusal of something sent during a run (its own one-frame session) does not end the run — unless it
    // says the run itself is gone (`UNKNOWN_RUN`: a re-attach to a server that no longer knows it).
    if (
      frame.type === 'error' &&
      runId !== undefined &&
      frame.sessionId !== runSessionId &&
      frame.code !== 'UNKNOWN_RUN'
    ) {
      handlers.onRefused?.(frame.code, frame.data, frame);
      return;
    }
    sessionId = frame.sessionId;
    dispatch(frame);
    // What a re-attach asks to resume after: only the frames the client has not seen are resent.
    if (runId !== undefined) subscription.setLastSeq(frame.seq);
  });
  const offError = subscription.on('error', (error) => handlers.onConnectionError?.(error));

  return {
    subscription,
    get sessionId() {
      return sessionId;
    },
    get runId() {
      return runId;
    },
    get role() {
      return role;
    },
    steer(text) {
      if (runId === undefined) return undefined;
      const steerId = nextSteerId();
      sendText(steerMessage(runId, steerId, text));
      return steerId;
    },
    stop() {
      if (runId === undefined) return false;
      sendText(stopMessage(runId));
      return true;
    },
    send(prompt, sendOptions) {
      subscription.push(promptPayload(prompt, sendOptions));
    },
    approve(approvalId, editedArguments) {
      subscription.answeredApproval(approvalId, true);
      sendText(approvalMessage(approvalId, 'approve', editedArguments));
    },
    deny(approvalId) {
      subscription.answeredApproval(approvalId, true);
      sendText(approvalMessage(approvalId, 'deny'));
    },
    async close() {
      offMessage();
      offError();
      if (owned) await subscription.close();
    },
  };
}
