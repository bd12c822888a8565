import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRouteHandler } from '@atmosphere/runtime';
import type { Registry } from 'prom-client';

/** Options of {@link metricsHandler}. */
export interface MetricsHandlerOptions {
  /**
   * Decides whether a request may read the metrics (an operator's token, a loopback address). Default: every
   * request may; put the route behind the network's own protection, or pass a check. A refused request gets 403.
   */
  readonly authorize?: (request: IncomingMessage) => boolean | Promise<boolean>;
}

/**
 * A `/metrics` handler for `atmosphere.handle('/metrics', metricsHandler(registry))`: GET (and HEAD) answer
 * the registry in the Prometheus text format (`registry.contentType`); other methods get 405. A registry whose
 * collection throws (a gauge's source failing) answers 500 with the reason.
 */
export function metricsHandler(registry: Registry, options: MetricsHandlerOptions = {}): HttpRouteHandler {
  return {
    async request(request: IncomingMessage, response: ServerResponse): Promise<void> {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
        response.end('Method Not Allowed');
        return;
      }
      if (options.authorize !== undefined && !(await options.authorize(request))) {
        response.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end('Forbidden');
        return;
      }
      let body: string;
      try {
        body = await registry.metrics();
      } catch (error) {
        response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end(`Metrics could not be collected: ${(error as Error).message}`);
        return;
      }
      response.writeHead(200, {
        'Content-Type': registry.contentType,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    },
  };
}
