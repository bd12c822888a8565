import { defineProvider, type Provider } from '@atmosphere/runtime/spi';

/** The provider kind whose instance keeps the MCP endpoints of an Atmosphere instance. */
export const MCP_ENDPOINTS_KIND = 'mcp-endpoints';

/** What an endpoint is to the registry: something to close with the instance. */
export interface ClosableEndpoint {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * The MCP endpoints of one Atmosphere instance. The runtime closes every provider instance when it shuts
 * down, so `atmosphere.close()` closes each endpoint mounted on it — sessions end and their streams with them —
 * before it waits for the HTTP server to close.
 */
export class McpEndpoints {
  readonly #endpoints = new Set<ClosableEndpoint>();

  add(endpoint: ClosableEndpoint): void {
    this.#endpoints.add(endpoint);
  }

  delete(endpoint: ClosableEndpoint): void {
    this.#endpoints.delete(endpoint);
  }

  /** The paths of the endpoints mounted. */
  paths(): string[] {
    return [...this.#endpoints].map((endpoint) => endpoint.path);
  }

  async close(): Promise<void> {
    const endpoints = [...this.#endpoints];
    this.#endpoints.clear();
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
  }
}

declare module '@atmosphere/runtime/spi' {
  interface ProviderKinds {
    'mcp-endpoints': McpEndpoints;
  }
}

/**
 * The `mcp-endpoints` provider (priority 0, always available): `createAtmosphere({ providers: [mcpEndpoints()] })`,
 * or install `@atmosphere/mcp` (its register entry registers it).
 */
export function mcpEndpoints(): Provider<'mcp-endpoints'> {
  return defineProvider({
    kind: MCP_ENDPOINTS_KIND,
    name: 'mcp',
    priority: 0,
    isAvailable: () => true,
    create: () => new McpEndpoints(),
  });
}
