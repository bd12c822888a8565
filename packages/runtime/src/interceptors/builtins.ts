import {
  AtmosphereHeaders,
  isUnsupportedFrameworkVersion,
  UNSUPPORTED_VERSION_MESSAGE,
} from '@atmosphere/protocol';
import { AtmosphereError } from '../errors.ts';
import type { RequestGuard } from '../protocol/cors.ts';
import type { AtmosphereInterceptor } from '../spi/interceptor.ts';
import type { BackpressurePolicy } from '../spi/resource.ts';

/** The protocol gate: clients older than 2.2.1 get 501 on the handshake. */
export function protocolInterceptor(): AtmosphereInterceptor {
  return {
    name: 'protocol',
    onConnect({ request }) {
      if (
        request.firstRequest &&
        request.framework !== undefined &&
        isUnsupportedFrameworkVersion(request.framework)
      ) {
        throw new AtmosphereError(
          'UNSUPPORTED_PROTOCOL_VERSION',
          `Client protocol version ${request.framework} is older than 2.2.1; upgrade the client.`,
          { status: 501, headers: { [AtmosphereHeaders.error]: UNSUPPORTED_VERSION_MESSAGE } },
        );
      }
    },
  };
}

/** Refuses a connection whose `Host` is not served or whose browser origin the policy does not allow (403). */
export function originInterceptor(guard: RequestGuard): AtmosphereInterceptor {
  return {
    name: 'origin',
    onConnect({ raw }) {
      guard.check(raw);
    },
  };
}

export interface HeartbeatOptions {
  /** Server→client heartbeat after this much silence. Default 60 000 ms; 0 disables. */
  intervalMs?: number;
  /** A client asking for a shorter interval (`X-Heartbeat-Server`) gets this. Default: `intervalMs`. */
  minIntervalMs?: number;
  /** How often clients must send their heartbeat, advertised in the handshake. Default 0 (never). */
  clientIntervalMs?: number;
}

/** Decides each connection's heartbeat: the client's wish (`X-Heartbeat-Server`, seconds), within limits. */
export function heartbeatInterceptor(options: HeartbeatOptions | false = {}): AtmosphereInterceptor {
  const interval = options === false ? 0 : (options.intervalMs ?? 60_000);
  const min = options === false ? 0 : (options.minIntervalMs ?? interval);
  const client = options === false ? 0 : (options.clientIntervalMs ?? 0);
  return {
    name: 'heartbeat',
    onConnect({ request, settings }) {
      settings.clientHeartbeatMs = client;
      if (request.transport === 'polling' || interval === 0) {
        settings.heartbeatMs = 0;
        return;
      }
      const asked = request.heartbeatSeconds;
      if (asked === undefined) settings.heartbeatMs = interval;
      else if (asked === 0) settings.heartbeatMs = 0;
      else settings.heartbeatMs = Math.max(asked * 1000, min);
    },
  };
}

/** Largest inbound message: WebSocket close 1009, HTTP 413. Default 1 MiB. */
export function maxMessageSizeInterceptor(maxBytes = 1024 * 1024): AtmosphereInterceptor {
  return {
    name: 'max-message-size',
    onConnect({ settings }) {
      settings.maxMessageBytes = maxBytes;
    },
    onInbound(message, resource) {
      const size = typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength;
      if (size > resource.settings.maxMessageBytes) throw tooLarge(size, resource.settings.maxMessageBytes);
      return message;
    },
  };
}

export function tooLarge(size: number | undefined, limit: number): AtmosphereError {
  return new AtmosphereError(
    'MESSAGE_TOO_LARGE',
    `Message of ${size === undefined ? 'more than ' + limit : size} bytes exceeds the limit of ${limit} bytes (option \`maxMessageBytes\`).`,
    { status: 413 },
  );
}

export interface BackpressureOptions {
  /** Messages waiting to be written to one client before the policy applies. Default 1000. */
  highWaterMark?: number;
  /**
   * Bytes waiting for one client — its queue plus what its socket has not sent — before the policy applies,
   * whatever the number of messages. Default 1 MiB.
   */
  maxBytes?: number;
  /** Default `disconnect`: the slow client is closed (1013) and catches up from the cache when it reconnects. */
  policy?: BackpressurePolicy;
  /**
   * How long a connection may have messages or unsent bytes waiting while its socket sends nothing before it
   * is cut, whatever the policy and the bounds above: WebSocket close 1013, an SSE error event with 1013, the
   * end of the response on the other HTTP transports; the client catches up on reconnect. Checked on every
   * tick of the ticker (1 s at most). Default 30 000 ms; 0 turns it off.
   */
  maxStallMs?: number;
}

export function backpressureInterceptor(options: BackpressureOptions = {}): AtmosphereInterceptor {
  const highWaterMark = options.highWaterMark ?? 1000;
  const policy = options.policy ?? 'disconnect';
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const maxStallMs = options.maxStallMs ?? 30_000;
  if (!Number.isInteger(maxStallMs) || maxStallMs < 0) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `backpressure.maxStallMs must be a non-negative integer; got ${maxStallMs}.`,
    );
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `backpressure.maxBytes must be a positive integer; got ${maxBytes}.`,
    );
  }
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `backpressure.highWaterMark must be a positive integer; got ${highWaterMark}.`,
    );
  }
  return {
    name: 'backpressure',
    onConnect({ settings }) {
      settings.highWaterMark = highWaterMark;
      settings.maxPendingBytes = maxBytes;
      settings.backpressurePolicy = policy;
      settings.maxStallMs = maxStallMs;
    },
  };
}

/** Closes connections with no inbound activity for `timeoutMs` (off by default). */
export function idleTimeoutInterceptor(timeoutMs = 0): AtmosphereInterceptor {
  return {
    name: 'idle-timeout',
    onConnect({ settings }) {
      settings.idleTimeoutMs = timeoutMs;
    },
  };
}
