/**
 * Self-check of the sample: `pnpm verify` (or `node --conditions=@atmosphere/source src/verify.ts`). Starts it
 * on a free port, drives its tools with the MCP SDK client over Streamable HTTP and WebSocket, and asserts what
 * a dashboard receives. Exit 0 when every check passed, 1 otherwise.
 */
import { verifyMcpDashboard } from './verify-check.ts';

const result = await verifyMcpDashboard();
console.log('MCP dashboard sample');
for (const line of result.lines) console.log(`  ${line}`);
process.exitCode = result.ok ? 0 : 1;
