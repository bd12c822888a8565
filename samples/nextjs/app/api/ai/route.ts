// SSE and long-polling from an App Router route handler: no custom server needed for these transports (a route
// handler never sees a WebSocket upgrade). The Atmosphere is the process's (`routeAtmosphere`): state lives in
// this Node process; several instances need a backplane and a durable stream log.
import { routeAtmosphere, routeHandlers } from '@atmosphere/runtime/next';
import { ROUTE_ATMOSPHERE, ROUTE_PATH, setupAi } from '../../../src/setup.ts';

export const dynamic = 'force-dynamic';

export const { GET, POST, DELETE, OPTIONS } = routeHandlers(() =>
  routeAtmosphere(ROUTE_ATMOSPHERE, (atmosphere) => void setupAi(atmosphere, ROUTE_PATH), {
    autoload: false,
  }),
);
