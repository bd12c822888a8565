import type { Connection } from '../delivery/connection.ts';
import type { ClientResource } from '../delivery/resource.ts';
import type { ServerCore } from './core.ts';

/** Unconfirmed messages that make a WebSocket client worth a delivery probe. */
export const PROBE_BATCH = 64;
/** Age of the oldest unconfirmed message that makes a probe worth it even for fewer messages. */
export const PROBE_AGE_MS = 2_000;

/**
 * The grace period of a client whose WebSocket closed with a close frame without a code (1005): atmosphere.js
 * 5's `close()` sends that and no close request, so it is taken as a leave unless the client is back by then.
 * A lost network never produces 1005 (that is 1006).
 */
export const CLOSE_WITHOUT_CODE_GRACE_MS = 5_000;

/**
 * One sweep over the clients (every `tickMs`): heartbeats after a silence, delivery probes, the idle timeout,
 * the end of grace periods, and the cache's upkeep once per `sweepIntervalMs`. Returns when the cache was
 * last swept.
 */
export function tick(core: ServerCore, now: number, lastSweep: number): number {
  // Queues of away clients grow with broadcasts between two of them going away: the byte cap is checked here.
  core.enforceAwayLimits();
  core.warnings.flush();
  for (const resource of core.resources.values()) {
    const connection = resource.connection;
    if (!connection) {
      // Away: between two polls, or cut and within its grace period.
      if (resource.awaySince !== 0) {
        if (resource.closedWithoutCode) {
          if (now - resource.awaySince > Math.min(core.graceMs, CLOSE_WITHOUT_CODE_GRACE_MS))
            resource.expire('client-closed');
        } else if (now - resource.awaySince > core.graceMs) resource.expire('timeout');
      }
      continue;
    }
    const heartbeatMs = resource.settings.heartbeatMs;
    if (resource.wroteSinceCheck) {
      resource.wroteSinceCheck = false;
      resource.lastWriteAt = now;
    } else if (heartbeatMs > 0 && now - resource.lastWriteAt >= heartbeatMs) {
      connection.heartbeat();
      resource.lastWriteAt = now;
    }
    // A probe (a ping carrying the last written number, confirmed by the pong) per batch or per age, not
    // per tick: one round trip confirms many messages. Only clients that report counts retain any.
    const unconfirmed = resource.queue.unconfirmed;
    if (
      unconfirmed.length > 0 &&
      (unconfirmed.length >= PROBE_BATCH || now - unconfirmed.peek()!.createdAt >= PROBE_AGE_MS) &&
      connection.probe !== undefined
    ) {
      connection.probe(resource.queue.writtenSeq);
    }
    if (stalled(resource, connection, now)) {
      resource.cut(
        `nothing sent for ${now - resource.stalledSince} ms with ${resource.queue.pendingBytes + connection.buffered} bytes waiting`,
        'No progress',
      );
      continue;
    }
    const idle = resource.settings.idleTimeoutMs;
    if (idle > 0 && now - resource.lastInboundAt > idle) {
      core.logger.debug(`resource ${resource.id}: idle for ${idle} ms; closing`);
      resource.expire('idle', 1001, 'Idle timeout');
    }
  }
  if (now - lastSweep >= core.cache.limits.sweepIntervalMs) {
    core.cache.sweep(now);
    sweepLog(core, now);
    sweepSessions(core, now);
    return now;
  }
  return lastSweep;
}

/**
 * The time-without-progress bound: true when messages or unsent bytes have waited for `maxStallMs` while the
 * socket handed nothing to the operating system (the client stopped reading and the kernel's buffers are full).
 */
function stalled(resource: ClientResource, connection: Connection, now: number): boolean {
  const maxStallMs = resource.settings.maxStallMs;
  if (maxStallMs <= 0) return false;
  if (resource.queue.pending.length === 0 && connection.buffered === 0) {
    resource.stalledSince = 0;
    return false;
  }
  const sent = connection.sent;
  if (resource.stalledSince === 0 || sent !== resource.sentMark) {
    resource.stalledSince = now;
    resource.sentMark = sent;
    return false;
  }
  return now - resource.stalledSince >= maxStallMs;
}

/** The log's upkeep; a store that fails it is reported, and the sweep goes on next time. */
function sweepLog(core: ServerCore, now: number): void {
  const log = core.log;
  if (log.sweep === undefined) return;
  try {
    const result = log.sweep(now);
    if (result instanceof Promise)
      result.catch((error: unknown) => core.logger.error(`stream log ${log.name}: sweep failed`, { error }));
  } catch (error) {
    core.logger.error(`stream log ${log.name}: sweep failed`, { error });
  }
}

/** The session store's upkeep (expired sessions); a failure is reported, and the sweep goes on next time. */
function sweepSessions(core: ServerCore, now: number): void {
  const store = core.sessions;
  if (store?.sweep === undefined) return;
  const failed = (error: unknown): void =>
    core.logger.error(`session store ${store.name}: sweep failed`, { error });
  try {
    const result = store.sweep(now);
    if (result instanceof Promise) result.catch(failed);
  } catch (error) {
    failed(error);
  }
}
