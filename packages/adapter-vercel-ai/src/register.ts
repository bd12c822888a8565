/**
 * Side-effect entry (`@atmosphere/adapter-vercel-ai/register`), loaded by the runtime's autoload when the
 * application depends on this package: registers the AI SDK runtime (priority 100), available only when an AI
 * SDK model id is configured (`AI_SDK_MODEL`, resolved by the AI Gateway or the SDK's global provider). Without
 * one the provider says what to set, and the startup line tells why another runtime won.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import { vercelAiRuntimeFromEnvironment } from './provider.ts';

registerProvider(vercelAiRuntimeFromEnvironment());
