import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { silentLogger } from '@atmosphere/runtime';
import { connectTestClient, Inbox } from '@atmosphere/runtime/testing';
import { presenceUri } from '@atmosphere/mcp';
import { startMcpDashboard } from './server.ts';
import { FEED, ROOM } from './tools.ts';

/** The outcome of {@link verifyMcpDashboard}: one line per check. */
export interface VerifyResult {
  readonly ok: boolean;
  readonly lines: string[];
}

function text(result: unknown): string {
  const first = (result as CallToolResult).content[0];
  return first?.type === 'text' ? first.text : '';
}

/**
 * Starts the sample on a free port and drives it as an MCP client would, while an Atmosphere client watches
 * the dashboard feed: the tools are listed over Streamable HTTP and WebSocket, an announcement and a streamed
 * answer reach the feed (tokens once each, in order), a virtual member's arrival is reported to a presence
 * subscription.
 */
export async function verifyMcpDashboard(): Promise<VerifyResult> {
  const lines: string[] = [];
  let ok = true;
  const check = async (what: string, run: () => Promise<string | undefined>): Promise<void> => {
    try {
      const detail = await run();
      lines.push(`ok     ${what}${detail ? ` (${detail})` : ''}`);
    } catch (error) {
      ok = false;
      lines.push(`FAILED ${what}: ${(error as Error).message}`);
    }
  };
  const dashboard = await startMcpDashboard({ port: 0, logger: silentLogger });
  const feed = await connectTestClient(dashboard.atmosphere.url(FEED), 'websocket');
  const http = new Client({ name: 'verify', version: '1.0.0' });
  const ws = new Client({ name: 'verify-ws', version: '1.0.0' });
  try {
    await http.connect(new StreamableHTTPClientTransport(new URL(dashboard.mcpUrl)));
    await ws.connect(new WebSocketClientTransport(new URL(dashboard.mcpWebSocketUrl)));
    await check('tools listed over Streamable HTTP and WebSocket', async () => {
      const [overHttp, overWs] = await Promise.all([http.listTools(), ws.listTools()]);
      const names = overHttp.tools.map((t) => t.name).join(', ');
      if (names !== overWs.tools.map((t) => t.name).join(', '))
        throw new Error('the two transports list different tools');
      if (!names.includes('stream_answer')) throw new Error(`stream_answer missing from ${names}`);
      return names;
    });
    await check('an announcement reaches the dashboard feed', async () => {
      await ws.callTool({ name: 'announce', arguments: { text: 'Deploy finished', level: 'success' } });
      const message = JSON.parse(await feed.messages.next()) as { type: string; text: string };
      if (message.type !== 'announcement' || message.text !== 'Deploy finished')
        throw new Error(JSON.stringify(message));
      return undefined;
    });
    await check('a streamed answer reaches the feed token by token, once each, in order', async () => {
      const answer = 'Atmosphere streams every token to every browser exactly once.';
      const result = await http.callTool({
        name: 'stream_answer',
        arguments: { title: 'Check', text: answer, delayMs: 0 },
      });
      let shown = '';
      const seqs: number[] = [];
      for (let i = 0; i < 200; i++) {
        const frame = JSON.parse(await feed.messages.next()) as { type: string; data?: string; seq: number };
        seqs.push(frame.seq);
        if (frame.type === 'streaming-text') shown += frame.data ?? '';
        if (frame.type === 'complete') break;
      }
      if (shown !== answer) throw new Error(`the feed showed ${JSON.stringify(shown)}`);
      if (seqs.some((seq, index) => seq !== index + 1))
        throw new Error(`frames out of order: ${seqs.join(',')}`);
      return `${text(result)} ${seqs.length} frames`;
    });
    await check('a presence subscription hears a virtual member join the room', async () => {
      const updates = new Inbox<string>();
      http.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
      await http.subscribeResource({ uri: presenceUri(ROOM) });
      await ws.callTool({ name: 'join_room', arguments: { member: 'verifier' } });
      const uri = await updates.next();
      const read = await http.readResource({ uri });
      const first = read.contents[0];
      const body = first && 'text' in first ? first.text : '';
      if (!body.includes('"verifier"')) throw new Error(body);
      return uri;
    });
  } catch (error) {
    ok = false;
    lines.push(`FAILED the checks could not run: ${(error as Error).message}`);
  } finally {
    await Promise.allSettled([http.close(), ws.close(), feed.close()]);
    await dashboard.close();
  }
  return { ok, lines };
}
