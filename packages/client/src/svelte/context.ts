import { getContext, setContext } from 'svelte';
import { atmosphere as defaultClient, type Atmosphere } from '../core/atmosphere.ts';

const KEY = Symbol.for('@atmosphere/client.svelte');

/** Shares a client with the stores created by this component's descendants (call during component init). */
export function setAtmosphereContext(instance: Atmosphere): Atmosphere {
  setContext(KEY, instance);
  return instance;
}

/**
 * The client set by an ancestor with {@link setAtmosphereContext}; the default client when there is none
 * or when called outside component initialisation (a store created in a plain module).
 */
export function getAtmosphereContext(): Atmosphere {
  try {
    return getContext<Atmosphere | undefined>(KEY) ?? defaultClient;
  } catch {
    return defaultClient;
  }
}
