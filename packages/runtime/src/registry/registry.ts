import { AtmosphereError } from '../errors.ts';
import type {
  Availability,
  CandidateStatus,
  KindSelection,
  Provider,
  ProviderContext,
  ProviderKind,
  ProviderKinds,
  SelectionCandidate,
} from '../spi/provider.ts';

/**
 * Providers by kind. One instance per process, shared by every copy of this package (it lives on
 * `globalThis` under `Symbol.for('@atmosphere/registry')`).
 */
export class ProviderRegistry {
  readonly #providers: Provider[] = [];

  /** Registers a provider; returns a function that unregisters it. A same kind+name provider is replaced. */
  register<K extends ProviderKind>(provider: Provider<K>): () => void {
    const index = this.#providers.findIndex((p) => p.kind === provider.kind && p.name === provider.name);
    if (index !== -1) this.#providers.splice(index, 1);
    this.#providers.push(provider);
    return () => {
      const at = this.#providers.indexOf(provider);
      if (at !== -1) this.#providers.splice(at, 1);
    };
  }

  /** Removes the provider of this kind and name, if registered. */
  unregister(kind: string, name: string): boolean {
    const index = this.#providers.findIndex((p) => p.kind === kind && p.name === name);
    if (index === -1) return false;
    this.#providers.splice(index, 1);
    return true;
  }

  /** Registered providers, of one kind or all. */
  providers(kind?: string): Provider[] {
    return this.#providers.filter((p) => kind === undefined || p.kind === kind);
  }

  /** Every kind that has a registered provider. */
  kinds(): string[] {
    return [...new Set(this.#providers.map((p) => p.kind))];
  }
}

const KEY = Symbol.for('@atmosphere/registry');

/** The process-wide registry. */
export const registry: ProviderRegistry =
  ((globalThis as Record<symbol, unknown>)[KEY] as ProviderRegistry | undefined) ??
  ((globalThis as Record<symbol, unknown>)[KEY] = new ProviderRegistry());

/** Registers a provider in the process-wide registry (what `@atmosphere/<pkg>/register` entries call). */
export function registerProvider<K extends ProviderKind>(provider: Provider<K>): () => void {
  return registry.register(provider);
}

function compare(a: Provider, b: Provider): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Picks the provider of one kind: explicit providers replace registered ones of the same name; the
 * available ones are tried by priority until one is created. Says why every other candidate lost.
 */
export async function selectProvider<K extends ProviderKind>(
  kind: K,
  explicit: readonly Provider[],
  registered: readonly Provider[],
  context: ProviderContext,
): Promise<{ selection: KindSelection; instance: ProviderKinds[K] | undefined }> {
  const explicitOfKind = explicit.filter((p) => p.kind === kind);
  const candidates: SelectionCandidate[] = [];
  const pool: { provider: Provider; source: 'explicit' | 'registered' }[] = explicitOfKind.map(
    (provider) => ({
      provider,
      source: 'explicit' as const,
    }),
  );
  for (const provider of registered.filter((p) => p.kind === kind)) {
    if (explicitOfKind.some((e) => e.name === provider.name)) {
      candidates.push({
        name: provider.name,
        priority: provider.priority,
        source: 'registered',
        status: 'replaced',
        reason: 'replaced by the provider passed in `providers`',
      });
    } else {
      pool.push({ provider, source: 'registered' });
    }
  }
  const available: typeof pool = [];
  for (const entry of pool) {
    let availability: Availability;
    try {
      availability = await entry.provider.isAvailable(context);
    } catch (error) {
      availability = { available: false, reason: `isAvailable() threw: ${(error as Error).message}` };
    }
    if (availability === true) available.push(entry);
    else {
      candidates.push({
        name: entry.provider.name,
        priority: entry.provider.priority,
        source: entry.source,
        status: 'unavailable',
        reason: availability.reason,
      });
    }
  }
  available.sort((a, b) => compare(a.provider, b.provider));
  let instance: ProviderKinds[K] | undefined;
  let winner: Provider | undefined;
  for (const entry of available) {
    if (winner) {
      candidates.push({
        name: entry.provider.name,
        priority: entry.provider.priority,
        source: entry.source,
        status: 'outranked',
        reason: `outranked by ${winner.name} (priority ${winner.priority} vs ${entry.provider.priority})`,
      });
      continue;
    }
    try {
      instance = (await entry.provider.create(context)) as ProviderKinds[K];
      winner = entry.provider;
      candidates.push({
        name: entry.provider.name,
        priority: entry.provider.priority,
        source: entry.source,
        status: 'selected',
        reason:
          available.length === 1 && candidates.length === 0
            ? 'the only candidate'
            : `highest priority of the available candidates (${entry.provider.priority})`,
      });
    } catch (error) {
      context.logger.error(`${kind}: provider ${entry.provider.name} failed to start`, { error });
      if (entry.provider.required === true)
        throw new AtmosphereError(
          'PROVIDER_FAILED',
          `${kind}: provider ${entry.provider.name} was configured explicitly and failed to start, so startup stops rather than fall back: ${(error as Error).message}`,
          { cause: error },
        );
      candidates.push({
        name: entry.provider.name,
        priority: entry.provider.priority,
        source: entry.source,
        status: 'failed',
        reason: `create() failed: ${(error as Error).message}`,
      });
    }
  }
  const order: Record<CandidateStatus, number> = {
    selected: 0,
    outranked: 1,
    failed: 2,
    unavailable: 3,
    replaced: 4,
  };
  candidates.sort((a, b) => order[a.status] - order[b.status] || b.priority - a.priority);
  return { selection: { kind, winner: winner?.name, candidates }, instance };
}

/** The startup log line for one kind. */
export function describeSelection(selection: KindSelection): string {
  const head = selection.winner
    ? `${selection.kind}: ${selection.winner} selected`
    : `${selection.kind}: no provider could start`;
  const others = selection.candidates
    .filter((c) => c.status !== 'selected')
    .map((c) => `${c.name}: ${c.status} — ${c.reason}`);
  const selected = selection.candidates.find((c) => c.status === 'selected');
  return [head + (selected ? ` (${selected.reason})` : ''), ...others].join('; ');
}

/** Throws when a kind the application needs has no provider. */
export function requireProvider<T>(
  kind: string,
  instance: T | undefined,
  selection: KindSelection | undefined,
): T {
  if (instance !== undefined) return instance;
  const reasons =
    selection?.candidates.map((c) => `${c.name}: ${c.reason}`).join('; ') ?? 'no provider is registered';
  throw new AtmosphereError('PROVIDER_UNAVAILABLE', `No ${kind} provider is available (${reasons}).`);
}
