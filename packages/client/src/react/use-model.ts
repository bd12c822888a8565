import { useEffect, useMemo, useSyncExternalStore } from 'react';
import type { Model } from '../models/store.ts';

/**
 * Creates a model when `key` changes, connects it while mounted (and `enabled`), and re-renders on each
 * snapshot. Creating a model has no side effect, so StrictMode's double render is harmless; the double
 * effect releases and re-acquires the shared connection within a microtask, which keeps it open.
 */
export function useModel<M extends Model<object>>(
  create: () => M,
  key: string,
  enabled: boolean,
): [M, ReturnType<M['getSnapshot']>] {
  // The key stands for everything create() reads.
  const model = useMemo(create, [key]);
  useEffect(() => {
    if (!enabled) return undefined;
    model.connect();
    return () => model.disconnect();
  }, [model, enabled]);
  const snapshot = useSyncExternalStore(model.subscribe, model.getSnapshot, model.getSnapshot) as ReturnType<
    M['getSnapshot']
  >;
  return [model, snapshot];
}

/** A stable key for the options of a hook (functions and symbols ignored). */
export function optionsKey(value: unknown): string {
  return JSON.stringify(value) ?? '';
}
