import { type AtmosphereResource, type Broadcaster, silentLogger } from '@atmosphere/runtime';
import { AudienceSink, BroadcasterSink } from './frame-sink.ts';
import {
  FrameStreamingSession,
  type StreamingSession,
  type StreamingSessionOptions,
} from './streaming-session.ts';

/** Options of the session factories: everything but the sink. */
export type SessionTargetOptions = Omit<StreamingSessionOptions, 'sink'>;

/**
 * A session that answers one client: frames are broadcast through `broadcaster` (default: the broadcaster of the
 * resource's path, when it is subscribed to one) addressed to the resource, so filters, the per-client cache
 * (replay on reconnect) and clustering apply. The session is cancelled when the resource disconnects for good.
 */
export function createResourceSession(
  resource: AtmosphereResource,
  options: SessionTargetOptions & { readonly broadcaster?: Broadcaster } = {},
): StreamingSession {
  const logger = options.logger ?? silentLogger;
  const fallback = [...resource.subscriptions].find(
    (s): s is Broadcaster => typeof (s as Partial<Broadcaster>).broadcast === 'function',
  );
  const broadcaster = options.broadcaster ?? fallback;
  const sink = new AudienceSink(
    () => (broadcaster && !broadcaster.destroyed ? broadcaster : undefined),
    logger,
  );
  sink.add(resource);
  const session = new FrameStreamingSession({ ...options, sink, logger });
  const onDisconnect = (): void => session.cancel('the client left');
  resource.on('disconnect', onDisconnect);
  void session.done.then(() => resource.off('disconnect', onDisconnect));
  return session;
}

/** A session that answers everyone subscribed to `broadcaster` (a room, a topic). */
export function createBroadcasterSession(
  broadcaster: Broadcaster,
  options: SessionTargetOptions = {},
): StreamingSession {
  const logger = options.logger ?? silentLogger;
  return new FrameStreamingSession({ ...options, sink: new BroadcasterSink(broadcaster, logger), logger });
}
