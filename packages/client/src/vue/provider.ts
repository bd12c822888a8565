import { defineComponent, hasInjectionContext, type InjectionKey, inject, type PropType, provide } from 'vue';
import { atmosphere as defaultClient, Atmosphere, type AtmosphereConfig } from '../core/atmosphere.ts';

const KEY: InjectionKey<Atmosphere> = Symbol.for('@atmosphere/client.vue');

/** Shares a client with the composables of this component's descendants (call in `setup`). */
export function provideAtmosphere(instance: Atmosphere = new Atmosphere()): Atmosphere {
  provide(KEY, instance);
  return instance;
}

/**
 * The provided client, else the default client. Outside a component's `setup` (a composable called in an
 * `effectScope`, a store, a test) there is nothing to inject from: the default client, without asking Vue.
 */
export function useAtmosphereClient(): Atmosphere {
  return hasInjectionContext() ? inject(KEY, defaultClient) : defaultClient;
}

/** `<AtmosphereProvider :instance="client">…</AtmosphereProvider>`: `provideAtmosphere` as a component. */
export const AtmosphereProvider = defineComponent({
  name: 'AtmosphereProvider',
  props: {
    instance: { type: Object as PropType<Atmosphere>, required: false, default: undefined },
    config: { type: Object as PropType<AtmosphereConfig>, required: false, default: undefined },
  },
  setup(props, { slots }) {
    provideAtmosphere(props.instance ?? new Atmosphere(props.config));
    return () => slots['default']?.();
  },
});
