/**
 * Side-effect entry (`@atmosphere/mcp/register`), loaded by the runtime's autoload when the application
 * depends on `@atmosphere/mcp`: registers the `mcp-endpoints` provider, through which `atmosphere.close()`
 * closes the MCP endpoints mounted with `mcpServer()`.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import { mcpEndpoints } from './registry.ts';

registerProvider(mcpEndpoints());
