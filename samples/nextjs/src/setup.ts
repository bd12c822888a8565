import { type AgentRuntime, aiEndpoint, type AiEndpointHandle, demoRuntime } from '@atmosphere/ai';
import type { Atmosphere } from '@atmosphere/runtime';

/** Served by the custom server: every transport, WebSocket first. */
export const WEBSOCKET_PATH = '/atmosphere/ai';
/** Served by the route handler `app/api/ai/route.ts`: SSE, then long-polling. */
export const ROUTE_PATH = '/api/ai';
/** The route handlers' Atmosphere, one per process (`routeAtmosphere`). */
export const ROUTE_ATMOSPHERE = 'nextjs-sample';

/**
 * The AI endpoint of the sample: the demo model (no key, no network; it says so in every answer) streaming
 * its answer token by token, with a progress line first.
 */
export function setupAi(atmosphere: Atmosphere, path: string, runtime?: AgentRuntime): AiEndpointHandle {
  return aiEndpoint(atmosphere, {
    path,
    systemPrompt: 'You are the assistant of the Atmosphere Next.js sample. Answer briefly.',
    runtime: runtime ?? demoRuntime(),
    onPrompt: async (prompt, session) => {
      session.progress('Thinking…');
      await session.stream(prompt);
    },
  });
}
