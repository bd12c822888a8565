import {
  computed,
  type ComputedRef,
  getCurrentInstance,
  onMounted,
  onScopeDispose,
  type ShallowRef,
  shallowRef,
} from 'vue';
import type { Model } from '../models/store.ts';

/** Each field of a snapshot as a read-only ref. */
export type SnapshotRefs<S> = { readonly [K in keyof S]: ComputedRef<S[K]> };

/**
 * Follows a model's snapshots in a shallow ref, connects it (on mount inside a component — never during
 * server rendering — or at once in a bare effect scope) and disconnects when the scope ends.
 */
export function useModel<M extends Model<object>>(
  model: M,
  enabled = true,
): ShallowRef<ReturnType<M['getSnapshot']>> {
  const state = shallowRef(model.getSnapshot()) as ShallowRef<ReturnType<M['getSnapshot']>>;
  const stop = model.subscribe(() => {
    state.value = model.getSnapshot() as ReturnType<M['getSnapshot']>;
  });
  if (enabled) {
    if (getCurrentInstance()) onMounted(() => model.connect());
    else model.connect();
  }
  onScopeDispose(() => {
    model.disconnect();
    stop();
  });
  return state;
}

/** `{ field: ComputedRef }` for every field of the snapshot in `state`. */
export function refsOf<S extends object>(state: ShallowRef<S>): SnapshotRefs<S> {
  const refs = {} as Record<string, ComputedRef<unknown>>;
  for (const key of Object.keys(state.value))
    refs[key] = computed(() => (state.value as Record<string, unknown>)[key]);
  return refs as SnapshotRefs<S>;
}
