import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnySchema, ZodRawShapeCompat } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { RoomManager, VirtualMemberContext } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import type { LogEventStore } from './event-store.ts';
import type {
  AnyMcpPrompt,
  AnyMcpTool,
  McpPrincipal,
  McpResourceDefinition,
  McpServerOptions,
} from './options.ts';
import { presenceRoom, registerRoomResources } from './room-resources.ts';
import { type McpRequestExtra, type SessionScope, ToolCallContext } from './tool-context.ts';

/** What a session needs from its endpoint. */
export interface SessionHost {
  readonly atmosphere: Atmosphere;
  readonly options: McpServerOptions;
  readonly rooms: () => Promise<RoomManager>;
  /** The session ended: forget it. */
  ended(session: McpSession): void;
}

function toResult(value: CallToolResult | string): CallToolResult {
  return typeof value === 'string' ? { content: [{ type: 'text', text: value }] } : value;
}

/**
 * One MCP session: its SDK server (tools, resources, prompts of the endpoint's options, room resources),
 * the transport it is connected to, the principal it is bound to, and what its tools left behind (virtual
 * members, presence subscriptions, the stored events) — all released when it ends, however it ends.
 */
export class McpSession {
  readonly id: string;
  readonly kind: 'streamable-http' | 'websocket';
  readonly principal: McpPrincipal;
  readonly server: McpServer;
  readonly transport: Transport;
  /** Requests in progress or streams open on it (Streamable HTTP); the idle sweep spares a busy session. */
  active = 0;
  lastSeen = Date.now();
  readonly #host: SessionHost;
  readonly #scope: SessionScope;
  readonly #subscriptions = new Map<string, () => void>();
  readonly #eventStore: LogEventStore | undefined;
  #ended = false;

  constructor(
    host: SessionHost,
    init: {
      id: string;
      kind: 'streamable-http' | 'websocket';
      principal: McpPrincipal;
      transport: Transport;
      eventStore?: LogEventStore;
    },
  ) {
    this.#host = host;
    this.id = init.id;
    this.kind = init.kind;
    this.principal = init.principal;
    this.transport = init.transport;
    this.#eventStore = init.eventStore;
    this.#scope = {
      atmosphere: host.atmosphere,
      principal: init.principal,
      sessionId: init.id,
      rooms: host.rooms,
      members: new Set<VirtualMemberContext>(),
    };
    const options = host.options;
    this.server = new McpServer(
      { name: options.name, version: options.version },
      {
        capabilities: {
          ...options.capabilities,
          resources: { subscribe: true, listChanged: true, ...options.capabilities?.resources },
          logging: {},
        },
        ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
      },
    );
    for (const tool of options.tools ?? []) this.#registerTool(tool);
    for (const resource of options.resources ?? []) this.#registerResource(resource);
    for (const prompt of options.prompts ?? []) this.#registerPrompt(prompt);
    if (options.rooms !== false) registerRoomResources(this.server, host.rooms);
    this.#registerSubscriptions();
    options.configure?.(this.server, { sessionId: init.id, transport: init.kind, principal: init.principal });
    this.server.server.onclose = () => void this.#end();
  }

  /** Connects the SDK server to the transport (starts it). */
  connect(): Promise<void> {
    return this.server.connect(this.transport);
  }

  #context(extra: McpRequestExtra): ToolCallContext {
    return new ToolCallContext(this.#scope, extra);
  }

  #registerTool(tool: AnyMcpTool): void {
    const run = async (args: unknown, extra: McpRequestExtra): Promise<CallToolResult> => {
      const context = this.#context(extra);
      try {
        const result = toResult(await tool.execute(args, context));
        context.settle();
        return result;
      } catch (error) {
        context.settle(error);
        throw error;
      }
    };
    const config = {
      ...(tool.title === undefined ? {} : { title: tool.title }),
      ...(tool.description === undefined ? {} : { description: tool.description }),
      ...(tool.outputSchema === undefined ? {} : { outputSchema: tool.outputSchema }),
      ...(tool.annotations === undefined ? {} : { annotations: tool.annotations }),
    };
    if (tool.inputSchema === undefined) {
      this.server.registerTool(tool.name, config, (extra: McpRequestExtra) => run({}, extra));
    } else {
      this.server.registerTool(
        tool.name,
        { ...config, inputSchema: tool.inputSchema as ZodRawShapeCompat | AnySchema },
        ((args: unknown, extra: McpRequestExtra) => run(args, extra)) as never,
      );
    }
  }

  #registerResource(resource: McpResourceDefinition): void {
    const metadata = {
      ...(resource.title === undefined ? {} : { title: resource.title }),
      ...(resource.description === undefined ? {} : { description: resource.description }),
      ...(resource.mimeType === undefined ? {} : { mimeType: resource.mimeType }),
    };
    if (!resource.uri.includes('{')) {
      this.server.registerResource(resource.name, resource.uri, metadata, (uri, extra) =>
        resource.read(uri, {}, this.#context(extra)),
      );
      return;
    }
    const list = resource.list?.bind(resource);
    const template = new ResourceTemplate(resource.uri, {
      list: list
        ? async (extra) => ({
            resources: (await list(this.#context(extra))).map((item) => ({
              ...item,
              ...(resource.mimeType === undefined ? {} : { mimeType: resource.mimeType }),
            })),
          })
        : undefined,
    });
    this.server.registerResource(resource.name, template, metadata, (uri, variables, extra) =>
      resource.read(uri, variables, this.#context(extra)),
    );
  }

  #registerPrompt(prompt: AnyMcpPrompt): void {
    const config = {
      ...(prompt.title === undefined ? {} : { title: prompt.title }),
      ...(prompt.description === undefined ? {} : { description: prompt.description }),
    };
    const argsSchema: unknown = prompt.argsSchema;
    if (argsSchema === undefined) {
      this.server.registerPrompt(prompt.name, config, ((extra: McpRequestExtra) =>
        prompt.get({} as never, this.#context(extra))) as never);
    } else {
      const shape = argsSchema as ZodRawShapeCompat;
      this.server.registerPrompt<ZodRawShapeCompat>(
        prompt.name,
        { ...config, argsSchema: shape },
        (args: unknown, extra: McpRequestExtra) => prompt.get(args as never, this.#context(extra)),
      );
    }
  }

  /**
   * `resources/subscribe`: any URI may be subscribed (the endpoint's `notifyResourceUpdated(uri)` reaches
   * its subscribers); a room presence URI also listens to the room, so each join or leave sends
   * `notifications/resources/updated`.
   */
  #registerSubscriptions(): void {
    const server = this.server.server;
    server.setRequestHandler(SubscribeRequestSchema, async (request) => {
      const uri = request.params.uri;
      if (this.#subscriptions.has(uri)) return {};
      let stop = (): void => {};
      const room = presenceRoom(uri);
      if (room !== undefined && this.#host.options.rooms !== false) {
        const manager = await this.#host.rooms();
        stop = manager.room(room).onPresence(() => {
          this.notifyResourceUpdated(uri);
        });
      }
      this.#subscriptions.set(uri, stop);
      return {};
    });
    server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
      const uri = request.params.uri;
      this.#subscriptions.get(uri)?.();
      this.#subscriptions.delete(uri);
      return {};
    });
  }

  /** Sends `notifications/resources/updated` for `uri` when this session subscribed to it. */
  notifyResourceUpdated(uri: string): void {
    if (!this.#subscriptions.has(uri) || this.#ended) return;
    this.server.server.sendResourceUpdated({ uri }).catch((error: unknown) => {
      this.#host.atmosphere.logger.debug?.('mcp: a resource update notification was not sent', { error });
    });
  }

  /** Ends the session: closes its transport (open streams end), releases what its tools left. Idempotent. */
  async close(): Promise<void> {
    if (this.#ended) return;
    await this.server.close();
    await this.#end();
  }

  async #end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#host.ended(this);
    for (const stop of this.#subscriptions.values()) stop();
    this.#subscriptions.clear();
    for (const member of [...this.#scope.members]) member.leave();
    this.#scope.members.clear();
    try {
      await this.#eventStore?.clear();
    } catch (error) {
      this.#host.atmosphere.logger.warn('mcp: the events of an ended session could not be deleted', {
        error,
      });
    }
  }
}
