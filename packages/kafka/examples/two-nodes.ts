/**
 * Two Atmosphere nodes relaying through Kafka, in one process: a WebSocket client on node B receives what node
 * A broadcasts, then an addressed reply reaches only its target. Exits 0 when everything arrived, 1 otherwise.
 *
 *   KAFKA_BROKERS=localhost:9092 node --conditions=@atmosphere/source packages/kafka/examples/two-nodes.ts
 */
import { createAtmosphere } from '@atmosphere/runtime';
import { connectTestClient } from '@atmosphere/runtime/testing';
import { kafkaBackplane } from '@atmosphere/kafka';

const brokers = process.env['KAFKA_BROKERS'] ?? process.env['ATMOSPHERE_KAFKA_BROKERS'];
if (!brokers) {
  console.error('Set KAFKA_BROKERS (host:9092[,host:9092…]) to the Kafka to relay through.');
  process.exit(2);
}
// One prefix per run, so that runs against a shared cluster never read each other's broadcasts.
const topicPrefix = `atmosphere-example.${Date.now().toString(36)}.`;
const node = () =>
  createAtmosphere({
    port: 0,
    autoload: false,
    providers: [kafkaBackplane({ brokers, topicPrefix, partitions: 2 })],
  });

const a = await node();
const b = await node();
try {
  for (const atmosphere of [a, b]) atmosphere.managed('/chat/{room}', {}, { codec: 'text' });
  const alice = await connectTestClient(b.url('/chat/lobby'), 'websocket');
  const bob = await connectTestClient(b.url('/chat/lobby'), 'sse');
  await a.broadcast('/chat/lobby', 'hello from node A');
  const first = [await alice.messages.next(10_000), await bob.messages.next(10_000)];
  await a.broadcast('/chat/lobby', 'only for alice', { to: [alice.trackingId] });
  await a.broadcast('/chat/lobby', 'for everyone again');
  const aliceRest = await alice.messages.take(2, 10_000);
  const bobRest = await bob.messages.take(1, 10_000);
  const ok =
    first.every((m) => m === 'hello from node A') &&
    aliceRest.join('|') === 'only for alice|for everyone again' &&
    bobRest.join('|') === 'for everyone again';
  console.log(
    `node A → node B through ${brokers}: alice got ${JSON.stringify([first[0], ...aliceRest])}, bob got ${JSON.stringify([first[1], ...bobRest])}`,
  );
  console.log(ok ? 'two-node example: ok' : 'two-node example: FAILED');
  await alice.close();
  await bob.close();
  process.exitCode = ok ? 0 : 1;
} finally {
  await a.close();
  await b.close();
}
