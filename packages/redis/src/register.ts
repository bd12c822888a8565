/**
 * Side-effect entry (`@atmosphere/redis/register`), loaded by the runtime's autoload when the application
 * depends on `@atmosphere/redis`: registers the Redis backplane, available only when `ATMOSPHERE_REDIS_URL`
 * is set. Without it the provider reports itself unavailable and says which variable to set, so the startup
 * line tells why the `local` backplane won.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import { redisBackplaneFromEnvironment } from './provider.ts';

registerProvider(redisBackplaneFromEnvironment());
