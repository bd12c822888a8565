/**
 * The compatibility statement, checked: every package's peer range on another @atmosphere package must
 * include that package's current version, and must not be a caret range on a 0.x version (which would make
 * every runtime minor a breaking change for all dependents). Prints the statement; exits 1 on a violation.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Version = [number, number, number];

function parse(version: string): Version {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) throw new Error(`Unreadable version ${version}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

function satisfiesComparator(version: Version, comparator: string): boolean {
  const match = /^(>=|<=|>|<|\^|~|=)?\s*(\d+\.\d+\.\d+)$/.exec(comparator.trim());
  if (!match) throw new Error(`Unsupported range part ${comparator}`);
  const op = match[1] ?? '=';
  const target = parse(match[2]!);
  const c = compare(version, target);
  switch (op) {
    case '>=':
      return c >= 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '<':
      return c < 0;
    case '=':
      return c === 0;
    case '~':
      return c >= 0 && version[0] === target[0] && version[1] === target[1];
    default: // ^
      if (target[0] > 0) return c >= 0 && version[0] === target[0];
      return c >= 0 && version[0] === 0 && version[1] === target[1];
  }
}

export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+(?=[<>=^~])/)
      .every((part) => satisfiesComparator(v, part)),
  );
}

const root = join(import.meta.dirname, '..');
const manifests = readdirSync(join(root, 'packages')).map(
  (dir) =>
    JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      peerDependencies?: Record<string, string>;
    },
);
const versions = new Map(manifests.map((m) => [m.name, m.version]));
let problems = 0;
for (const manifest of manifests) {
  for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
    const current = versions.get(peer);
    if (!current) continue;
    const ok = satisfies(current, range);
    const caretOnZero = /\^0\./.test(range);
    console.log(
      `${manifest.name} supports ${peer} ${range} (current ${current})${ok ? '' : ' — DOES NOT INCLUDE THE CURRENT VERSION'}${caretOnZero ? ' — caret on 0.x' : ''}`,
    );
    if (!ok || caretOnZero) problems++;
  }
}
if (problems > 0) {
  console.error(`${problems} compatibility problem(s)`);
  process.exit(1);
}
