/**
 * Side-effect entry (`@atmosphere/adapter-google-genai/register`), loaded by the runtime's autoload when the
 * application depends on `@atmosphere/adapter-google-genai`: registers the Google GenAI runtime (priority 100),
 * available only when `GEMINI_API_KEY` (or `GOOGLE_API_KEY`, or the `geminiApiKey` setting) is set. Without a
 * key the startup line says so, and which runtime won instead.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import { googleGenAi } from './provider.ts';

registerProvider(googleGenAi());
