/**
 * Side-effect entry (`@atmosphere/ai/register`), loaded by the runtime's autoload when the application depends
 * on `@atmosphere/ai`: registers the built-in OpenAI-compatible runtime (priority 0, available when a key is
 * configured), the demo model (priority -100, always available) and the in-memory conversation store. The
 * startup log then names the runtime that won and why the others lost.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import {
  builtInRuntimeProvider,
  demoRuntimeProvider,
  inMemoryConversationMemoryProvider,
} from './runtimes/providers.ts';

registerProvider(builtInRuntimeProvider());
registerProvider(demoRuntimeProvider());
registerProvider(inMemoryConversationMemoryProvider());
