import type { AtmosphereResource } from '../src/index.ts';
import type { ClientResource } from '../src/delivery/resource.ts';

/**
 * The runtime's side of a resource (its queue and connection), for tests that look at the delivery
 * machinery itself. Applications see only the `AtmosphereResource` interface.
 */
export function internal(resource: AtmosphereResource): ClientResource;
export function internal(resource: AtmosphereResource | undefined): ClientResource | undefined;
export function internal(resource: AtmosphereResource | undefined): ClientResource | undefined {
  return resource as ClientResource | undefined;
}
