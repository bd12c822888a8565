import type { Atmosphere, AtmosphereOptions } from '@atmosphere/runtime';
import type { BackplaneMessage } from '@atmosphere/runtime/spi';
import { Inbox, recordingLogger, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { KafkaBackplane, kafkaBackplane, type KafkaBackplaneOptions } from '../../src/index.ts';

export type RecordingLogger = ReturnType<typeof recordingLogger>;

/** One node of a test cluster: its Atmosphere, its Kafka backplane and everything it logged. */
export interface TestNode {
  readonly atmosphere: Atmosphere;
  readonly backplane: KafkaBackplane;
  readonly logger: RecordingLogger;
  /** Log lines of a level whose message contains `text`. */
  lines(level: string, text: string): string[];
}

function linesOf(logger: RecordingLogger) {
  return (level: string, text: string): string[] =>
    logger.lines.filter((l) => l.level === level && l.message.includes(text)).map((l) => l.message);
}

/** Starts a node on port 0 with a Kafka backplane, serving `/chat/{room}` (text codec). */
export async function startNode(
  options: KafkaBackplaneOptions,
  atmosphereOptions: AtmosphereOptions = {},
): Promise<TestNode> {
  const logger = recordingLogger();
  const atmosphere = await startTestAtmosphere({
    providers: [kafkaBackplane(options)],
    logger,
    ...atmosphereOptions,
  });
  const backplane = atmosphere.provider('broadcaster-backplane');
  if (!(backplane instanceof KafkaBackplane)) {
    await atmosphere.close();
    throw new Error(`the selected backplane is ${backplane?.name}, not kafka`);
  }
  atmosphere.managed('/chat/{room}', {}, { codec: 'text' });
  return { atmosphere, backplane, logger, lines: linesOf(logger) };
}

/** A backplane outside any Atmosphere, whose deliveries land in `received` exactly as the runtime would get them. */
export interface BareBackplane {
  readonly backplane: KafkaBackplane;
  readonly received: Inbox<BackplaneMessage>;
  readonly logger: RecordingLogger;
  lines(level: string, text: string): string[];
}

export async function startBare(options: KafkaBackplaneOptions): Promise<BareBackplane> {
  const logger = recordingLogger();
  const provider = kafkaBackplane(options);
  const backplane = (await provider.create({ env: {}, logger, settings: {} })) as KafkaBackplane;
  const received = new Inbox<BackplaneMessage>();
  await backplane.start((message) => received.push(message));
  return { backplane, received, logger, lines: linesOf(logger) };
}
