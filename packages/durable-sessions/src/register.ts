/**
 * Side-effect entry (`@atmosphere/durable-sessions/register`), loaded by the runtime's autoload when the
 * application depends on `@atmosphere/durable-sessions`: registers the SQLite stores (on
 * `ATMOSPHERE_DURABLE_SQLITE`, or `.atmosphere/durable.sqlite` under the current directory when better-sqlite3
 * is installed; `ATMOSPHERE_DURABLE_SQLITE=off` turns them off) and the Redis stores (when
 * `ATMOSPHERE_REDIS_URL` is set). The startup lines say which store won each kind, and why.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import { durableFromEnvironment } from './providers.ts';

for (const provider of durableFromEnvironment()) registerProvider(provider);
