import type { TransportName } from '../../../src/index.ts';

/** What a framework page reads from its query string: the room member and the transport to use. */
export function pageOptions(): { member: string; transport: TransportName } {
  const query = new URLSearchParams(location.search);
  return {
    member: query.get('member') ?? 'alice',
    transport: (query.get('transport') ?? 'websocket') as TransportName,
  };
}
