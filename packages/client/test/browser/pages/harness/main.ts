// Exposes the client to the browser tests: `harness.start({...})` opens a subscription whose events and
// messages are recorded in `harness.log` / `harness.messages`, which the tests read.
import {
  type ApprovalRequest,
  Atmosphere,
  type AtmosphereRequest,
  type StreamingHandle,
  type Subscription,
  subscribeStreaming,
} from '../../../../src/index.ts';

const client = new Atmosphere();
const log: string[] = [];
const messages: string[] = [];
let subscription: Subscription | undefined;
let stream: StreamingHandle | undefined;
let pending: ApprovalRequest | undefined;

const harness = {
  log,
  messages,
  start(request: Partial<AtmosphereRequest> & { path: string }): void {
    const { path, ...rest } = request;
    subscription = client.subscribe({ ...rest, url: path });
    subscription.on('open', (event) => log.push(`open:${event.transport}`));
    subscription.on('reopen', (event) => log.push(`reopen:${event.transport}`));
    subscription.on('close', (event) => log.push(`close:${event.reason}`));
    subscription.on('reconnect', (event) => log.push(`reconnect:${event.attempt}`));
    subscription.on('transportFailure', (event) =>
      log.push(`transportFailure:${event.transport}->${event.next}`),
    );
    subscription.on('error', (error) => log.push(`error:${error.code}`));
    subscription.on('message', (message) => messages.push(message.text));
    subscription.on('session', (event) =>
      log.push(`session:${event.status}:${event.token}${event.refused ? `:${event.refused}` : ''}`),
    );
  },
  /** Follows AI answers on `path`: tokens go to `messages`, the answers' ends to `log` (`complete`, `error:<code>`). */
  streamAi(request: Partial<AtmosphereRequest> & { path: string }): void {
    const { path, ...rest } = request;
    subscription = client.subscribe({ ...rest, url: path });
    stream = subscribeStreaming(subscription, {
      onToken: (text) => messages.push(text),
      onComplete: () => log.push('complete'),
      onApprovalRequired: (approval) => {
        log.push(`approval:${approval.approvalId}`);
        pending = approval;
      },
      onError: (_message, frame) => log.push(`error:${String((frame as { code?: unknown }).code)}`),
    });
  },
  approve(): void {
    pending?.approve();
  },
  prompt(text: string): void {
    stream?.send(text);
  },
  push(message: string): void {
    subscription?.push(message);
  },
  status(): unknown {
    return subscription?.status();
  },
  trackingId(): string | undefined {
    return subscription?.trackingId;
  },
  async close(): Promise<void> {
    await subscription?.close();
  },
};

(globalThis as unknown as { harness: typeof harness }).harness = harness;
document.title = 'harness ready';
