/**
 * Side-effect entry (`@atmosphere/adapter-langchain/register`), loaded by the runtime's autoload when the
 * application depends on `@atmosphere/adapter-langchain`: registers the LangChain runtime (priority 100),
 * available only when a chat model is given in `settings['agent-runtime'].langchainModel`. Without one the
 * startup line says so, and which runtime won instead.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import { langChainFromSettings } from './provider.ts';

registerProvider(langChainFromSettings());
