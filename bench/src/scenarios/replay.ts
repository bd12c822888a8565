import type { ResumeToken } from '../clients/connector.ts';
import type { CpuSample } from '../lib/endpoint.ts';
import { waitFor } from '../lib/clock.ts';
import type { Impl } from '../options.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import {
  type ClientGroup,
  FanoutSession,
  cpuBetween,
  type ServerHandle,
  startClients,
  startServer,
  stopRun,
  waitForServerConnections,
} from './harness.ts';
import {
  baselineIndex,
  goal,
  LABELS,
  orderImpls,
  type Scenario,
  type ScenarioReport,
  WS_CLIENTS,
  byImpl,
} from './scenario.ts';

/** One reconnection: how long until every missed message had arrived. */
interface ReplayRound {
  complete: boolean;
  /** From the start of the reconnection to the last missed message. */
  elapsedMs: number;
  /** From the start of the reconnection to the open connection. */
  connectedMs: number;
  delivered: number;
  recovered: boolean | undefined;
  /** The server's CPU time from the start of the reconnection to the last missed message (µs). */
  serverCpuUs: number;
}

interface ReplayRun {
  impl: Impl;
  rounds: ReplayRound[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  medianConnectMs: number;
  medianServerCpuUs: number;
}

/** Each peer's replay: Atmosphere's cache, raw ws with its own replay buffer, Socket.IO's connection state recovery. */
function replayServer(impl: Impl, messages: number): ServerConfig {
  switch (impl) {
    case 'atmosphere':
      return { impl, heartbeatMs: 30_000 };
    case 'ws':
    case 'ws-frame-once':
      return { impl, heartbeatMs: 30_000, replay: messages * 2 };
    case 'socketio':
      return { impl, heartbeatMs: 30_000, recovery: true, transports: ['websocket'] };
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The server on one core and the client on the other, as in the token scenario. */
const SERVER_CPU = '0';
const CLIENT_CPU = '1';

/** Unmeasured reconnections of each implementation before the measured rounds. */
export const WARM_REPLAYS = 8;

/** Scenario 5: a client that missed messages reconnects; time until all of them are delivered. */
export const replayScenario: Scenario = {
  id: 'replay',
  title: '5. Replay of missed messages on reconnect',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const messages = options.replayMessages;
    const warmRounds = options.quick ? 1 : WARM_REPLAYS;
    const impls = orderImpls(options.impls);
    const runs: ReplayRun[] = [];
    const notes: string[] = [];
    const setups: {
      impl: Impl;
      server: ServerHandle;
      group: ClientGroup;
      nextSeq: number;
      rounds: ReplayRound[];
    }[] = [];
    try {
      for (const impl of impls) {
        const label = `replay-${impl}`;
        const server = await startServer(context, replayServer(impl, messages), label, { cpus: SERVER_CPU });
        const group = await startClients(
          context,
          server,
          { impl: WS_CLIENTS[impl], count: 1, processes: 1, cpus: CLIENT_CPU },
          label,
        ).catch(async (error: unknown) => {
          await stopRun(server, undefined);
          throw error;
        });
        setups.push({ impl, server, group, nextSeq: 1, rounds: [] });
        if (group.connected !== 1)
          throw new Error(`${label}: the client could not connect: ${group.firstError ?? 'unknown'}`);
        // Live traffic first, so the replay continues an existing stream.
        const session = new FanoutSession(server, group);
        await server.child.call('broadcast', { firstSeq: 1, count: 10 });
        setups[setups.length - 1]!.nextSeq = 11;
        if (!(await waitFor(() => session.min >= 10, 5_000)))
          throw new Error(`${label}: the first live messages did not arrive`);
      }
      // One reconnection: the client is cut, misses `messages` broadcasts, and resumes.
      const reconnect = async (setup: (typeof setups)[number]): Promise<ReplayRound> => {
        const { impl, server, group } = setup;
        const client = group.children[0]!;
        const token = await client.call<ResumeToken>('cut', { index: 0 });
        const left = await waitForServerConnections(server, 0, 5_000, (seen) => seen === 0);
        if (left !== 0)
          throw new Error(`${LABELS[impl]}: the server still counts ${left} connection(s) after the cut`);
        await server.child.call('broadcast', { firstSeq: setup.nextSeq, count: messages });
        setup.nextSeq += messages;
        const before = await server.child.call<CpuSample>('cpu');
        const result = await client.call<Omit<ReplayRound, 'serverCpuUs'>>(
          'resume',
          { index: 0, token, expected: messages, timeoutMs: 10_000 },
          20_000,
        );
        const after = await server.child.call<CpuSample>('cpu');
        return { ...result, serverCpuUs: cpuBetween(before, after).us };
      };
      // Warm-up (module loading, JIT), not measured: reconnections of the measured size, so the first rounds do
      // not measure the compiler. A warm-up that loses messages fails the run as a measured one would.
      for (let warm = 0; warm < warmRounds; warm++) {
        for (const setup of setups) {
          const result = await reconnect(setup);
          if (!result.complete || result.delivered !== messages)
            throw new Error(
              `${LABELS[setup.impl]} warm-up: ${result.delivered} of ${messages} missed messages delivered`,
            );
        }
      }
      // Rounds interleave the implementations, so load from elsewhere lands on all alike.
      for (let round = 0; round < options.replayRounds; round++) {
        for (let i = 0; i < setups.length; i++) {
          const setup = setups[(i + round) % setups.length]!;
          const { impl } = setup;
          const result = await reconnect(setup);
          setup.rounds.push(result);
          if (!result.complete || result.delivered !== messages) {
            notes.push(
              `${LABELS[impl]} round ${round + 1}: ${result.delivered} of ${messages} missed messages delivered.`,
            );
          }
          if (result.recovered === false)
            notes.push(`${LABELS[impl]} round ${round + 1}: the session was not recovered.`);
        }
      }
      for (const { impl, rounds } of setups) {
        const complete = rounds.filter((r) => r.complete).map((r) => r.elapsedMs);
        runs.push({
          impl,
          rounds,
          medianMs: median(complete),
          minMs: Math.min(...complete),
          maxMs: Math.max(...complete),
          medianConnectMs: median(rounds.map((r) => r.connectedMs)),
          medianServerCpuUs: median(rounds.map((r) => r.serverCpuUs)),
        });
      }
    } finally {
      for (const { server, group } of setups) await stopRun(server, group);
    }
    const { find, value } = byImpl(runs, impls);
    const atmo = find('atmosphere');
    return {
      comparisons: [
        {
          title: `${messages.toLocaleString('en-US')} missed messages, ${options.replayRounds} reconnections each after ${warmRounds} unmeasured`,
          columns: impls.map((i) => LABELS[i]),
          baseline: baselineIndex(impls),
          rows: [
            {
              metric: 'Reconnect to last missed message, median',
              unit: 'ms',
              values: value((r) => r.medianMs),
              digits: 1,
            },
            {
              metric: 'Reconnect to last missed message, best',
              unit: 'ms',
              values: value((r) => r.minMs),
              digits: 1,
            },
            {
              metric: 'Reconnect to last missed message, worst',
              unit: 'ms',
              values: value((r) => r.maxMs),
              digits: 1,
            },
            {
              metric: 'Reconnect to open connection, median',
              unit: 'ms',
              values: value((r) => r.medianConnectMs),
              digits: 1,
            },
            {
              metric: 'Server CPU, reconnect to last missed message (every thread), median',
              unit: 'ms',
              values: value((r) => r.medianServerCpuUs / 1000),
              digits: 2,
            },
          ],
          notes: [
            'Raw ws replays from a buffer the application keeps itself (`?since=<count>`); Socket.IO uses its connection state recovery; ' +
              'Atmosphere replays from its cache for the same tracking id (`X-Atmosphere-Received`). ' +
              `Each server first takes ${warmRounds} unmeasured reconnections of the same size (module loading, JIT).`,
          ],
        },
      ],
      goals: [
        goal(
          `Replay of ${messages} messages ≤ 50 ms (Atmosphere, median)`,
          atmo?.medianMs ?? null,
          50,
          'atMost',
          (v) => `${v.toFixed(1)} ms`,
        ),
        goal(
          `Replay of ${messages} messages ≤ 5 ms (Atmosphere, median, after the warm-up)`,
          atmo?.medianMs ?? null,
          5,
          'atMost',
          (v) => `${v.toFixed(1)} ms`,
        ),
      ],
      notes,
      profiles: [],
      data: runs,
    };
  },
};
