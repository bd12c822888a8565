/** Who made an MCP request, as the {@link McpAuth.verify} hook established it. */
export interface McpPrincipal {
  /** A stable id of the caller (a user, a service). Sessions are bound to it. */
  readonly id: string;
  /** OAuth-style scopes granted to the token; handed to tools as `authInfo.scopes`. */
  readonly scopes?: readonly string[];
  /** Anything else the application wants tools to see (`context.principal.claims`). */
  readonly claims?: Readonly<Record<string, unknown>>;
}
