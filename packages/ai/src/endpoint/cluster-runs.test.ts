import { MemoryClusterState } from '@atmosphere/runtime/spi';
import { eventually, recordingLogger } from '@atmosphere/runtime/testing';
import { expect, test } from 'vitest';
import { ClusterRuns, type RunCommand } from './cluster-runs.ts';

test('commands from other nodes are taken only well formed; a malformed one is ignored with a warning', async () => {
  const state = new MemoryClusterState();
  await state.start();
  const logger = recordingLogger();
  const runs = new ClusterRuns(state, logger);
  const received: [string, RunCommand][] = [];
  runs.listen((runId, command) => received.push([runId, command]));
  const from = { node: 'n2', resourceId: 'r1' };
  for (const control of [
    { op: 'steer', steerId: 5, text: 'x' },
    { op: 'steer', steerId: 'bad id!', text: 'x' },
    { op: 'approve', message: { not: 'text' } },
    { op: 'refused', node: 'n1', resourceId: 'r1', code: 'ANYTHING', message: 'x' },
    { op: 'launch' },
  ])
    await state.signal('ai-run:run-1', { control, ...from });
  await state.signal('ai-run:run-1', { ...from, control: { op: 'steer', steerId: 's-1', text: 'Shorter' } });
  await eventually(() => received.length === 1, 'the well-formed command');
  expect(received).toEqual([
    ['run-1', { ...from, control: { op: 'steer', steerId: 's-1', text: 'Shorter' } }],
  ]);
  expect(logger.lines.filter((line) => line.message.includes('malformed command'))).toHaveLength(5);
  await state.close();
});
