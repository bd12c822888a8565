// The dependency rules of docs/architecture.md, checked on every import — type-only imports included, which
// ESLint's cycle rule does not see: no import cycle inside a package; inside a package, no import climbs to a
// higher layer; SPI type files and the protocol package are leaves; each package imports only the
// @atmosphere packages it may. Run by `pnpm lint`. Exit code 1 and one line per violation when a rule breaks.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

interface PackageRules {
  /** Layers from the bottom up: a file may import files of its own layer and of the layers below. */
  readonly layers?: readonly (readonly string[])[];
  /** Files that may import only each other, the listed packages and `node:` types. */
  readonly leaves?: { readonly files: readonly string[]; readonly may: readonly string[] };
  /** The @atmosphere packages this one may import (per file pattern when a value is an object). */
  readonly packages: readonly (string | { readonly name: string; readonly only: readonly string[] })[];
  /** No `node:` import at all (browser-safe). */
  readonly noNode?: readonly string[];
  /** Third-party packages (and their subpaths) only the matching files may import: optional peers of one entry. */
  readonly confined?: readonly { readonly name: string; readonly only: readonly string[] }[];
}

// The web frameworks are optional peers of the runtime's integration entries: the root and every other entry
// stay free of them, so an application that does not use one never loads it.
const FRAMEWORKS = (only: string): NonNullable<PackageRules['confined']> => [
  { name: 'express', only: [] },
  { name: 'fastify', only: [only.replace('*', 'fastify')] },
  { name: 'hono', only: [only.replace('*', 'hono')] },
  { name: '@hono/node-server', only: [only.replace('*', 'hono')] },
  { name: 'next', only: [] },
];

const RULES: Record<string, PackageRules> = {
  protocol: { packages: [], noNode: ['**'], leaves: { files: ['**'], may: [] } },
  runtime: {
    packages: ['@atmosphere/protocol'],
    confined: FRAMEWORKS('integrations/*.ts'),
    leaves: { files: ['spi/*.ts', '!spi/index.ts'], may: ['@atmosphere/protocol'] },
    layers: [
      ['util/**', 'spi/*.ts', '!spi/index.ts', 'errors.ts', 'logger.ts', 'version.ts'],
      ['cluster/**', 'delivery/**', 'log/**', 'registry/**', 'protocol/**', 'session/**', 'telemetry/**'],
      ['broadcast/**', 'transports/**', 'interceptors/**'],
      ['managed.ts', 'decorators.ts'],
      ['server/**'],
      ['atmosphere.ts', 'options.ts'],
      ['create.ts', 'index.ts', 'spi/index.ts', 'testing/**'],
      ['integrations/**'],
    ],
  },
  ai: {
    packages: [
      '@atmosphere/protocol',
      '@atmosphere/runtime',
      { name: '@atmosphere/rooms', only: ['rooms/**'] },
    ],
    leaves: {
      files: ['spi/*.ts', '!spi/index.ts'],
      may: ['@atmosphere/protocol', '@atmosphere/runtime/spi'],
    },
    layers: [
      ['spi/*.ts', '!spi/index.ts', 'errors.ts'],
      ['telemetry/**'],
      ['tools/**', 'memory/**', 'streaming/**'],
      ['structured/**'],
      ['pipeline/**', 'runtimes/**'],
      ['endpoint/**', 'rooms/**'],
      ['index.ts', 'register.ts', 'spi/index.ts', 'testing/**'],
    ],
  },
  rooms: { packages: ['@atmosphere/protocol', '@atmosphere/runtime'] },
  redis: { packages: ['@atmosphere/protocol', '@atmosphere/runtime'] },
  observability: {
    packages: ['@atmosphere/protocol', '@atmosphere/runtime'],
    layers: [
      ['folded-instruments.ts'],
      ['prometheus-metrics.ts', 'opentelemetry-tracing.ts', 'metrics-handler.ts'],
      ['metrics-provider.ts', 'tracing-provider.ts'],
      ['index.ts', 'spi/index.ts', 'testing/**'],
    ],
  },
  kafka: { packages: ['@atmosphere/protocol', '@atmosphere/runtime'] },
  // ai is an optional peer: the conversation-memory stores implement its SPI.
  'durable-sessions': { packages: ['@atmosphere/protocol', '@atmosphere/runtime', '@atmosphere/ai'] },
  'adapter-langchain': {
    packages: ['@atmosphere/ai', '@atmosphere/runtime', '@atmosphere/protocol'],
    layers: [
      ['errors.ts', 'messages.ts', 'capabilities.ts'],
      ['langchain-runtime.ts', 'bridge.ts', 'graph-bridge.ts'],
      ['provider.ts'],
      ['index.ts', 'register.ts'],
    ],
  },
  'adapter-google-genai': {
    packages: ['@atmosphere/ai', '@atmosphere/runtime', '@atmosphere/protocol'],
    layers: [
      ['config.ts', 'wire.ts', 'streamed-arguments.ts'],
      ['google-genai-runtime.ts'],
      ['capabilities.ts', 'provider.ts'],
      ['index.ts', 'register.ts'],
    ],
  },
  // ai and rooms are optional peers of mcp: imported for their types, loaded with import() when present.
  mcp: { packages: ['@atmosphere/protocol', '@atmosphere/runtime', '@atmosphere/ai', '@atmosphere/rooms'] },
  'adapter-vercel-ai': {
    // `/chat` runs in browsers: the client and the protocol only, no node: module.
    packages: [
      '@atmosphere/protocol',
      '@atmosphere/client',
      { name: '@atmosphere/runtime', only: ['**', '!chat/**'] },
      { name: '@atmosphere/ai', only: ['**', '!chat/**'] },
    ],
    noNode: ['chat/**'],
  },
  client: {
    packages: ['@atmosphere/protocol'],
    noNode: ['**', '!node/**'],
  },
};

const IMPORT =
  /^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function glob(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*/g, '§')
    .replace(/\*/g, '[^/]*')
    .replace(/§/g, '.*');
  return new RegExp(`^${source}$`);
}

/** True when `file` matches the patterns: any positive one, and no `!` one. */
function matches(file: string, patterns: readonly string[]): boolean {
  const positive = patterns.filter((p) => !p.startsWith('!'));
  const negative = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  return positive.some((p) => glob(p).test(file)) && !negative.some((p) => glob(p).test(file));
}

function sources(dir: string, base = dir): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sources(path, base));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) files.push(relative(base, path));
  }
  return files;
}

function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const match of text.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2];
    if (specifier !== undefined) found.push(specifier);
  }
  return found;
}

const violations: string[] = [];

for (const entry of readdirSync('packages', { withFileTypes: true })) {
  if (entry.isDirectory() && !(entry.name in RULES))
    violations.push(`packages/${entry.name}: no import rules in scripts/check-imports.ts; add its entry`);
}

for (const [name, rules] of Object.entries(RULES)) {
  const root = join('packages', name, 'src');
  const files = sources(root);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const edges: string[] = [];
    const where = `packages/${name}/src/${file}`;
    for (const specifier of specifiers(readFileSync(join(root, file), 'utf8'))) {
      if (specifier.startsWith('.')) {
        const target = normalize(join(dirname(file), specifier));
        if (target.startsWith('..')) {
          violations.push(`${where}: imports ${specifier}, outside the package's src`);
          continue;
        }
        edges.push(target);
        continue;
      }
      if (specifier.startsWith('node:')) {
        if (rules.noNode && matches(file, rules.noNode))
          violations.push(`${where}: imports ${specifier}; this file must stay browser-safe`);
        continue;
      }
      for (const rule of rules.confined ?? []) {
        if ((specifier === rule.name || specifier.startsWith(`${rule.name}/`)) && !matches(file, rule.only))
          violations.push(
            `${where}: imports ${specifier}; only ${rule.only.join(', ') || 'no file'} may (an optional peer of one entry)`,
          );
      }
      if (specifier.startsWith('@atmosphere/')) {
        const target = specifier.split('/').slice(0, 2).join('/');
        const allowed = rules.packages.some((rule) =>
          typeof rule === 'string' ? rule === target : rule.name === target && matches(file, rule.only),
        );
        if (!allowed)
          violations.push(`${where}: imports ${specifier}; ${name} may not depend on ${target} here`);
      }
      if (rules.leaves && matches(file, rules.leaves.files) && !rules.leaves.may.includes(specifier)) {
        violations.push(
          `${where}: imports ${specifier}; this file is a leaf (it may import ${rules.leaves.may.join(', ') || 'nothing'})`,
        );
      }
    }
    graph.set(file, edges);
  }

  // Leaves and layers.
  const layerOf = (file: string): number =>
    rules.layers ? rules.layers.findIndex((patterns) => matches(file, patterns)) : -1;
  for (const [file, edges] of graph) {
    const where = `packages/${name}/src/${file}`;
    if (rules.layers && layerOf(file) === -1)
      violations.push(`${where}: in no layer of scripts/check-imports.ts`);
    for (const target of edges) {
      if (rules.leaves && matches(file, rules.leaves.files) && !matches(target, rules.leaves.files)) {
        violations.push(
          `${where}: imports ./${target}; this file is a leaf and may import only its own kind`,
        );
      }
      const from = layerOf(file);
      const to = layerOf(target);
      if (from >= 0 && to > from) {
        violations.push(`${where}: imports ./${target}, which is in a higher layer (${to} > ${from})`);
      }
    }
  }

  // Cycles (Tarjan's strongly connected components), type-only imports included.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (node: string): void => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, indices.get(next)!));
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1)
        violations.push(
          `packages/${name}/src: import cycle (type imports included): ${component.sort().join(' ⇄ ')}`,
        );
    }
  };
  for (const file of graph.keys()) if (!indices.has(file)) visit(file);
}

if (violations.length > 0) {
  for (const violation of violations) console.error(violation);
  console.error(`${violations.length} import rule violation(s); the rules are in docs/architecture.md.`);
  process.exit(1);
}
console.log(
  `import rules: ${Object.keys(RULES).length} packages checked, no cycle, no layer climbed, leaves intact`,
);
