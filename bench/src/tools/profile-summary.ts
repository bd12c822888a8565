/**
 * Prints the top self-time functions of a `.cpuprofile` (from `node --cpu-prof`, or `pnpm bench --profile`,
 * which writes them to bench/results/tmp/profiles/).
 *
 *   node src/tools/profile-summary.ts <file.cpuprofile> [--top=30] [--filter=packages/]
 *
 * `--filter` keeps functions whose location contains the text (e.g. `packages/` for Atmosphere's own code).
 */
import { join } from 'node:path';
import { summarizeProfile } from '../lib/cpu-profile.ts';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  process.stderr.write(
    'usage: node src/tools/profile-summary.ts <file.cpuprofile> [--top=30] [--filter=text]\n',
  );
  process.exit(2);
}
const option = (name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const top = Number(option('top') ?? 30);
const filter = option('filter');
const summary = await summarizeProfile(file, join(import.meta.dirname, '../../..'), filter ? 100_000 : top);
const rows = filter ? summary.top.filter((f) => f.where.includes(filter)).slice(0, top) : summary.top;
process.stdout.write(`${summary.file}: ${summary.totalMs.toFixed(0)} ms sampled\n`);
for (const f of rows)
  process.stdout.write(
    `${f.selfPercent.toFixed(1).padStart(6)} %  ${f.selfMs.toFixed(1).padStart(9)} ms  ${f.where}\n`,
  );
