import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import {
  type BroadcasterBackplane,
  defineProvider,
  LocalBackplane,
  type Provider,
  registry,
} from '../src/spi/index.ts';
import { applicationRoot } from '../src/registry/autoload.ts';
import { recordingLogger, startTestAtmosphere } from '../src/testing/index.ts';

class NamedBackplane extends LocalBackplane {
  readonly label: string;
  constructor(label: string) {
    super();
    this.label = label;
  }
}

function backplane(
  name: string,
  priority: number,
  available: true | string,
  fails = false,
): Provider<'broadcaster-backplane'> {
  return defineProvider({
    kind: 'broadcaster-backplane',
    name,
    priority,
    isAvailable: () => (available === true ? true : { available: false, reason: available }),
    create: (): BroadcasterBackplane => {
      if (fails) throw new Error(`${name} could not connect`);
      return new NamedBackplane(name);
    },
  });
}

const cleanups: (() => void)[] = [];
let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('provider selection', () => {
  test('the highest available priority wins; the log and describe() say why every other one lost', async () => {
    const logger = recordingLogger();
    cleanups.push(
      registry.register(
        backplane('redis', 100, 'ATMOSPHERE_REDIS_URL is not set; set it or call redis({ url })'),
      ),
    );
    atmosphere = await startTestAtmosphere({
      logger,
      providers: [backplane('kafka', 50, true), backplane('zeta', 50, true)],
    });
    const selection = atmosphere.describe().providers.find((p) => p.kind === 'broadcaster-backplane')!;
    expect(selection.winner).toBe('kafka');
    expect((atmosphere.provider('broadcaster-backplane') as unknown as NamedBackplane).label).toBe('kafka');
    const byName = Object.fromEntries(selection.candidates.map((c) => [c.name, c]));
    expect(byName['redis']).toMatchObject({
      status: 'unavailable',
      reason: expect.stringMatching(/ATMOSPHERE_REDIS_URL/),
    });
    expect(byName['zeta']).toMatchObject({ status: 'outranked', reason: expect.stringMatching(/kafka/) });
    expect(byName['local']).toMatchObject({ status: 'outranked' });
    const line = logger.lines.find((l) => l.message.startsWith('broadcaster-backplane: kafka selected'))!;
    expect(line.level).toBe('info');
    expect(line.message).toMatch(/redis: unavailable — ATMOSPHERE_REDIS_URL/);
  });

  test('a configured provider that fails to start fails the startup (PROVIDER_FAILED), after the selection line says why', async () => {
    const logger = recordingLogger();
    await expect(
      startTestAtmosphere({
        logger,
        providers: [backplane('kafka', 50, true), backplane('flaky', 80, true, true)],
      }),
    ).rejects.toMatchObject({
      code: 'PROVIDER_FAILED',
      message: expect.stringMatching(
        /broadcaster-backplane: provider flaky is configured but failed to start — create\(\) failed: flaky could not connect\. Fix/,
      ),
    });
    const line = logger.lines.find((l) => l.message.startsWith('broadcaster-backplane: kafka selected'))!;
    expect(line.message).toMatch(/flaky: failed — create\(\) failed: flaky could not connect/);
    expect(
      logger.lines.some((l) => l.level === 'error' && l.message.includes('provider flaky failed to start')),
    ).toBe(true);
  });

  test('an explicit provider replaces a registered one of the same name', async () => {
    cleanups.push(registry.register(backplane('same', 10, true)));
    atmosphere = await startTestAtmosphere({ providers: [backplane('same', 20, true)] });
    const selection = atmosphere.describe().providers.find((p) => p.kind === 'broadcaster-backplane')!;
    expect(selection.candidates.filter((c) => c.name === 'same').map((c) => [c.source, c.status])).toEqual([
      ['explicit', 'selected'],
      ['registered', 'replaced'],
    ]);
  });

  test('the registry is shared by every copy of the package through globalThis', () => {
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('@atmosphere/registry')]).toBe(registry);
  });
});

/** An application folder depending on two fake @atmosphere packages: one with a register entry, one without. */
async function fakeApplication(): Promise<string> {
  const app = await mkdtemp(join(tmpdir(), 'atmosphere-app-'));
  const withEntry = join(app, 'node_modules', '@atmosphere', 'fake-backplane');
  const without = join(app, 'node_modules', '@atmosphere', 'no-register');
  await mkdir(withEntry, { recursive: true });
  await mkdir(without, { recursive: true });
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'app',
      dependencies: { '@atmosphere/fake-backplane': '*', '@atmosphere/no-register': '*', other: '*' },
    }),
  );
  await writeFile(
    join(withEntry, 'package.json'),
    JSON.stringify({
      name: '@atmosphere/fake-backplane',
      type: 'module',
      exports: { './register': './register.js' },
    }),
  );
  await writeFile(
    join(withEntry, 'register.js'),
    `const key = Symbol.for('@atmosphere/registry');
     globalThis[key].register({ kind: 'broadcaster-backplane', name: 'fake', priority: 5, isAvailable: () => true,
       create: () => ({ name: 'fake', start() {}, publish() {}, async close() {} }) });`,
  );
  await writeFile(
    join(without, 'package.json'),
    JSON.stringify({ name: '@atmosphere/no-register', exports: { '.': './index.js' } }),
  );
  return app;
}

describe('autoload', () => {
  test('loads the register entry of every installed @atmosphere/* dependency and skips those without one', async () => {
    const app = await fakeApplication();
    cleanups.push(() => registry.unregister('broadcaster-backplane', 'fake'));
    atmosphere = await startTestAtmosphere({ autoload: { root: app } });
    const description = atmosphere.describe();
    expect(description.autoloaded).toEqual(['@atmosphere/fake-backplane']);
    expect(description.providers.find((p) => p.kind === 'broadcaster-backplane')!.winner).toBe('fake');
  });

  test('finds the application from its entry script, whatever the current directory', async () => {
    const app = await fakeApplication();
    const runtime = join(dirname(fileURLToPath(import.meta.url)), '..');
    await symlink(runtime, join(app, 'node_modules', '@atmosphere', 'runtime'), 'dir');
    await writeFile(
      join(app, 'server.mjs'),
      `import { createAtmosphere, silentLogger } from '@atmosphere/runtime';
       const atmosphere = await createAtmosphere({ port: 0, logger: silentLogger });
       const description = atmosphere.describe();
       console.log(JSON.stringify({
         autoloaded: description.autoloaded,
         winner: description.providers.find((p) => p.kind === 'broadcaster-backplane').winner,
       }));
       await atmosphere.close();`,
    );
    const elsewhere = await mkdtemp(join(tmpdir(), 'atmosphere-cwd-'));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@atmosphere/source', join(app, 'server.mjs')],
      { cwd: elsewhere, timeout: 20_000 },
    );
    expect(JSON.parse(stdout.trim())).toEqual({ autoloaded: ['@atmosphere/fake-backplane'], winner: 'fake' });
  });

  test('an entry script inside node_modules (a test runner, a loader) or none means the current directory', async () => {
    const app = await fakeApplication();
    await mkdir(join(app, 'src'));
    await writeFile(join(app, 'src', 'server.mjs'), '');
    expect(applicationRoot(join(app, 'src', 'server.mjs'), '/somewhere')).toBe(app);
    expect(
      applicationRoot(join(app, 'node_modules', '@atmosphere', 'fake-backplane', 'register.js'), '/cwd'),
    ).toBe('/cwd');
    expect(applicationRoot(undefined, '/cwd')).toBe('/cwd');
    expect(applicationRoot(join(app, 'missing.mjs'), '/cwd')).toBe('/cwd');
  });
});
