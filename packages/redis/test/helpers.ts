import type { Atmosphere, AtmosphereOptions } from '@atmosphere/runtime';
import { recordingLogger, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { RedisBackplane, redisBackplane, type RedisBackplaneOptions } from '../src/index.ts';

export type RecordingLogger = ReturnType<typeof recordingLogger>;

/** One node of a test cluster: its Atmosphere, its Redis backplane and everything it logged. */
export interface TestNode {
  readonly atmosphere: Atmosphere;
  readonly backplane: RedisBackplane;
  readonly logger: RecordingLogger;
  /** Log lines of a level whose message contains `text`. */
  lines(level: string, text: string): string[];
}

/** Starts a node on port 0 with a Redis backplane, serving `/chat/{room}` (text codec). */
export async function startNode(
  options: RedisBackplaneOptions,
  atmosphereOptions: AtmosphereOptions = {},
): Promise<TestNode> {
  const logger = recordingLogger();
  const atmosphere = await startTestAtmosphere({
    providers: [redisBackplane(options)],
    logger,
    ...atmosphereOptions,
  });
  const backplane = atmosphere.provider('broadcaster-backplane');
  if (!(backplane instanceof RedisBackplane)) {
    await atmosphere.close();
    throw new Error(`the selected backplane is ${backplane?.name}, not redis`);
  }
  atmosphere.managed('/chat/{room}', {}, { codec: 'text' });
  return {
    atmosphere,
    backplane,
    logger,
    lines: (level, text) =>
      logger.lines.filter((l) => l.level === level && l.message.includes(text)).map((l) => l.message),
  };
}
