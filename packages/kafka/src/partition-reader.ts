import { AtmosphereError } from '@atmosphere/runtime';
import type { KafkaLike, KafkaMessageLike } from './kafka-client.ts';

/** kafkajs' broker, as far as a fetch at an offset goes. */
interface BrokerLike {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{
    responses: {
      topicName: string;
      partitions: { partition: number; highWatermark: string; messages: KafkaMessageLike[] }[];
    }[];
  }>;
}

/** kafkajs' cluster, as far as finding a partition's leader goes. */
interface ClusterLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
  findBroker(broker: { nodeId: number }): Promise<BrokerLike>;
}

type ClusterFactory = (options: {
  allowAutoTopicCreation: boolean;
  maxInFlightRequests: null;
}) => ClusterLike;

/** READ_COMMITTED, kafkajs' value. */
const READ_COMMITTED = 1;

/**
 * Reads one partition from an offset, without a consumer group. kafkajs has no public API for that (its consumer
 * always joins a group, and a join takes seconds on a real cluster), so this uses the cluster object every kafkajs
 * 2.x client builds its producer and consumer from. When the instance has none (another client, or a kafkajs that
 * changed its insides) the constructor says so instead of failing later.
 */
export class PartitionReader {
  readonly #cluster: ClusterLike;
  #connected: Promise<void> | undefined;

  constructor(kafka: KafkaLike) {
    const symbol = Object.getOwnPropertySymbols(kafka).find(
      (s) => s.description === 'private:Kafka:createCluster',
    );
    const factory = symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
    if (typeof factory !== 'function')
      throw new AtmosphereError(
        'PROVIDER_UNAVAILABLE',
        'The Kafka stream log reads at an offset through kafkajs 2.x, and this Kafka instance is not one; pass a kafkajs 2 `Kafka` instance, or brokers to make one.',
      );
    this.#cluster = (factory as ClusterFactory)({ allowAutoTopicCreation: false, maxInFlightRequests: null });
  }

  /**
   * Records of partition 0 of `topic` from `offset` on, as far as one fetch of `maxBytes` reaches (whole record
   * batches; records before `offset` in the first batch are left out).
   */
  async read(topic: string, offset: number, maxBytes: number): Promise<KafkaMessageLike[]> {
    this.#connected ??= this.#cluster.connect();
    await this.#connected;
    await this.#cluster.addTargetTopic(topic);
    const leader = this.#cluster.findTopicPartitionMetadata(topic).find((p) => p.partitionId === 0)?.leader;
    if (leader === undefined) throw new Error(`topic ${topic} has no partition 0`);
    const broker = await this.#cluster.findBroker({ nodeId: leader });
    const response = await broker.fetch({
      replicaId: -1,
      isolationLevel: READ_COMMITTED,
      maxWaitTime: 0,
      minBytes: 0,
      maxBytes,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: String(offset), maxBytes }] }],
    });
    const messages = response.responses[0]?.partitions[0]?.messages ?? [];
    return messages.filter((message) => Number(message.offset) >= offset);
  }

  async close(): Promise<void> {
    if (this.#connected !== undefined) await this.#cluster.disconnect().catch(() => undefined);
  }
}
