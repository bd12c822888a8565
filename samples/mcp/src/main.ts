/**
 * Runs the sample: `pnpm start` (or `node --conditions=@atmosphere/source src/main.ts`). PORT (default 8080),
 * HOST (default 127.0.0.1), MCP_TOKEN (a bearer token MCP clients must send; default none).
 */
import { startMcpDashboard } from './server.ts';

const dashboard = await startMcpDashboard({
  port: Number(process.env['PORT'] ?? 8080),
  host: process.env['HOST'] ?? '127.0.0.1',
  ...(process.env['MCP_TOKEN'] ? { token: process.env['MCP_TOKEN'] } : {}),
});
console.log(`Dashboard:         ${dashboard.url}`);
console.log(`MCP (HTTP):        ${dashboard.mcpUrl}`);
console.log(`MCP (WebSocket):   ${dashboard.mcpWebSocketUrl}`);
console.log(
  `MCP Inspector:     npx @modelcontextprotocol/inspector  (Streamable HTTP, URL ${dashboard.mcpUrl})`,
);
const stop = (): void => {
  dashboard.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
