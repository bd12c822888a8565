import { AtmosphereHeaders } from '@atmosphere/protocol';
import type { BroadcastFilter } from '../src/spi/index.ts';
import { authInterceptor } from '../src/interceptors/auth.ts';
import { maxMessageSizeInterceptor } from '../src/interceptors/builtins.ts';
import { rateLimitInterceptor } from '../src/interceptors/rate-limit.ts';
import { filterContract } from '../src/testing/filter-contract.ts';
import { interceptorContract } from '../src/testing/interceptor-contract.ts';

// The built-in interceptors an application configures, each through the contract a third party's must meet.
interceptorContract('auth (token in the header)', {
  create: () => authInterceptor({ verify: (token) => (token === 'good' ? { user: 'ada' } : undefined) }),
  accepted: { headers: { [AtmosphereHeaders.auth]: 'good' } },
  refused: { options: { headers: { [AtmosphereHeaders.auth]: 'forged' } }, status: 401 },
});

interceptorContract('rate-limit', {
  create: () => rateLimitInterceptor({ messagesPerSecond: 1_000, burst: 1_000 }),
});

interceptorContract('max-message-size', {
  create: () => maxMessageSizeInterceptor(64),
});

// Filters as an application writes them: a transform, one that drops, and one that holds until a flush.
filterContract('a transforming filter', {
  create: (): BroadcastFilter => ({
    name: 'upper',
    filter: (payload) => (typeof payload === 'string' ? payload.toUpperCase() : payload),
  }),
  inputs: ['a', 'b', 'c'],
  expected: ['A', 'B', 'C'],
});

filterContract('a dropping filter', {
  create: (): BroadcastFilter => ({
    name: 'no-secrets',
    filter: (payload) => (payload === 'secret' ? null : payload),
  }),
  inputs: ['one', 'secret', 'two'],
  expected: ['one', 'two'],
});

filterContract('a batching filter (holds until a flush marker, per broadcaster)', {
  create: (): BroadcastFilter => {
    const pending = new Map<string, string[]>();
    return {
      name: 'batch',
      filter: (payload, context) => {
        if (typeof payload !== 'string') return payload;
        const held = pending.get(context.broadcaster.id) ?? [];
        if (payload !== '.') {
          held.push(payload);
          pending.set(context.broadcaster.id, held);
          return { action: 'hold' };
        }
        pending.delete(context.broadcaster.id);
        return held.join(' ');
      },
    };
  },
  inputs: ['to', 'be', 'or'],
  flush: '.',
  expected: ['to be or'],
});
