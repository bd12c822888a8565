import type { Logger } from '@atmosphere/runtime';
import { demoRuntime } from '../runtimes/demo/demo-runtime.ts';
import { openAiRuntime } from '../runtimes/openai/openai-runtime.ts';
import type { AgentRuntime } from '../spi/agent-runtime.ts';

/**
 * The runtime of an AI room member that was given none: the built-in OpenAI-compatible runtime when the
 * environment configures it (`LLM_API_KEY`, `LLM_MODE=local` with Ollama answering), else the demo model, so
 * a room with an AI member works without a key. Never rejects; says in the log which one answers and why.
 */
export async function defaultRoomRuntime(logger: Logger): Promise<AgentRuntime> {
  try {
    const builtIn = openAiRuntime({ logger });
    const availability = await builtIn.isAvailable();
    if (availability === true) {
      logger.info(
        `AI room members answer with ${builtIn.config.model} (built-in runtime, ${builtIn.config.baseUrl})`,
      );
      return builtIn;
    }
    logger.info(`AI room members answer with the demo model: ${availability.reason}`);
  } catch (error) {
    logger.warn(
      `AI room members answer with the demo model: the built-in runtime could not be configured (${(error as Error).message})`,
    );
  }
  return demoRuntime();
}
