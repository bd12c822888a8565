/**
 * The server-side cost of writing a backlog at once — what a reconnecting client's replay, or a queue catching
 * up after its connection drained, costs the server — in one process: a client per transport, its resource held
 * (as while a resume reads the log) while `--messages` messages queue for it, then released; the release writes
 * them all, synchronously, and that call is timed. The clients read in the same process, after the timed call.
 *
 * Run: `node --conditions=@atmosphere/source --expose-gc src/tools/flush-cost.ts [--rounds=300]
 * [--messages=900] [--transports=websocket,sse,streaming]` from bench/.
 * A probe for finding where a replay's time goes, not a scenario: it prints medians, it asserts nothing.
 */
import type { AtmosphereResource } from '@atmosphere/runtime';
import { connectTestClient, startTestAtmosphere } from '@atmosphere/runtime/testing';

type Transport = 'websocket' | 'sse' | 'streaming';

function flag(name: string): string | undefined {
  return process.argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** The runtime's hold on a resource's writes (internal: a resume reading the log holds it the same way). */
interface Holdable {
  hold(): void;
  release(): void;
}

const rounds = Number(flag('rounds') ?? 300);
const messages = Number(flag('messages') ?? 900);
const transports = (flag('transports') ?? 'websocket,sse,streaming').split(',') as Transport[];
// Within the per-client bounds (1 000 messages by default), so the backlog is written, not cut.
const atmosphere = await startTestAtmosphere({ rateLimit: false });
atmosphere.managed('/flush/{transport}', {});
try {
  for (const transport of transports) {
    const client = await connectTestClient(atmosphere.url(`/flush/${transport}`), transport);
    const resource = atmosphere.resource(client.trackingId) as AtmosphereResource & Holdable;
    const times: number[] = [];
    let received = 0;
    for (let round = 0; round < rounds; round++) {
      resource.hold();
      for (let i = 0; i < messages; i++)
        resource.write(`{"seq":${i},"text":"a queued message, round ${round}"}`);
      const started = performance.now();
      resource.release();
      times.push(performance.now() - started);
      received += messages;
      await client.messages.waitForCount(received, 10_000);
    }
    await client.close();
    // The first third warms the code up.
    const measured = times.slice(Math.floor(rounds / 3)).sort((a, b) => a - b);
    const at = (q: number): string => measured[Math.floor(q * (measured.length - 1))]!.toFixed(3);
    console.log(
      `${transport}: flush of ${messages} queued messages, ms: median ${at(0.5)}, p10 ${at(0.1)}, p90 ${at(0.9)}`,
    );
  }
} finally {
  await atmosphere.close();
}
