import { createContext, createElement, type ReactNode, useContext, useState } from 'react';
import { atmosphere as defaultClient, Atmosphere, type AtmosphereConfig } from '../core/atmosphere.ts';

const AtmosphereContext = createContext<Atmosphere | null>(null);

/** Props of {@link AtmosphereProvider}. */
export interface AtmosphereProviderProps {
  /** The client to share. Default: a new one made from `config` (once, on mount). */
  instance?: Atmosphere;
  /** Options of the client made when no `instance` is given. */
  config?: AtmosphereConfig;
  children?: ReactNode;
}

/**
 * Shares an {@link Atmosphere} client with the hooks below it. Hooks outside any provider use the
 * default client. The provider does not close the client it was given; one it made is closed when the
 * hooks using it unmount (their connections are ref-counted).
 */
export function AtmosphereProvider({ instance, config, children }: AtmosphereProviderProps): ReactNode {
  const [client] = useState(() => instance ?? new Atmosphere(config));
  return createElement(AtmosphereContext.Provider, { value: instance ?? client }, children);
}

/** The client of the nearest {@link AtmosphereProvider}, else the default client. */
export function useAtmosphereClient(): Atmosphere {
  return useContext(AtmosphereContext) ?? defaultClient;
}
