/**
 * What a server's heap gained per connection between two snapshots, by kind of object (`pnpm bench
 * --only=memory --profile` writes `memory-<n>-<impl>-before/after.heapsnapshot` to bench/results/tmp/profiles/).
 *
 *   node src/tools/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> <connections> [--top=25]
 */
import { diffHeapSnapshots } from '../lib/heap-snapshot.ts';

const args = process.argv.slice(2);
const [before, after, count] = args.filter((a) => !a.startsWith('--'));
if (!before || !after || !count) {
  process.stderr.write(
    'usage: node src/tools/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> <connections> [--top=25]\n',
  );
  process.exit(2);
}
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const diff = await diffHeapSnapshots(before, after, Number(count), top);
process.stdout.write(`${(diff.bytesPerConnection / 1024).toFixed(2)} KiB of heap per connection\n`);
for (const g of diff.top) {
  process.stdout.write(
    `${g.bytesPerConnection.toFixed(0).padStart(7)} B  ${g.perConnection.toFixed(2).padStart(6)} ×  ${g.name}\n`,
  );
}
