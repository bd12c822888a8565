import { MemoryStreamLog } from '@atmosphere/runtime/spi';
import { describe, expect, test } from 'vitest';
import { LogEventStore, parseEventId } from './event-store.ts';

describe('the event store on a stream log', () => {
  test('replays the events after an id, in order, without the priming event, only from its own session', async () => {
    const log = new MemoryStreamLog();
    const store = new LogEventStore(log, '/mcp:s1');
    const other = new LogEventStore(log, '/mcp:s2');
    const priming = await store.storeEvent('stream-a', {} as never);
    const ids = [];
    for (let i = 1; i <= 3; i++)
      ids.push(await store.storeEvent('stream-a', { jsonrpc: '2.0', method: 'n', params: { i } }));
    await store.storeEvent('stream-b', { jsonrpc: '2.0', method: 'other' });
    const sent: [string, unknown][] = [];
    const send = async (id: string, message: unknown): Promise<void> => {
      sent.push([id, message]);
    };
    expect(await store.replayEventsAfter(priming, { send })).toBe('stream-a');
    expect(sent).toEqual(
      ids.map((id, index) => [id, { jsonrpc: '2.0', method: 'n', params: { i: index + 1 } }]),
    );
    expect(await store.getStreamIdForEventId(ids[1] ?? '')).toBe('stream-a');
    // Another session holding the id finds nothing of it.
    await expect(other.replayEventsAfter(priming, { send })).rejects.toThrow(/no longer kept/);
  });

  test('refuses a resume it cannot make exact: foreign epoch, trimmed events, junk ids', async () => {
    const log = new MemoryStreamLog();
    const store = new LogEventStore(log, '/mcp:s1');
    const first = await store.storeEvent('s', { jsonrpc: '2.0', method: 'a' });
    await store.storeEvent('s', { jsonrpc: '2.0', method: 'b' });
    await store.storeEvent('s', { jsonrpc: '2.0', method: 'c' });
    const send = async (): Promise<void> => {};
    const parsed = parseEventId(first);
    expect(parsed).toMatchObject({ streamId: 's', seq: 1 });
    const foreign = first.replace(parsed?.epoch ?? '', 'another-epoch');
    await expect(store.replayEventsAfter(foreign, { send })).rejects.toThrow(/no longer kept/);
    log.trim('mcp:/mcp:s1:s', 3);
    await expect(store.replayEventsAfter(first, { send })).rejects.toThrow(/trimmed/);
    for (const junk of ['', 'abc', 'a.b', 'a.b.0', 'a.b.x', '!!.e.1', 'x'.repeat(600)]) {
      expect(parseEventId(junk)).toBeUndefined();
      await expect(store.replayEventsAfter(junk, { send })).rejects.toThrow(/not an event id/);
    }
  });

  test('clear() deletes the streams of the session', async () => {
    const log = new MemoryStreamLog();
    const store = new LogEventStore(log, '/mcp:s1');
    await store.storeEvent('s', { jsonrpc: '2.0', method: 'a' });
    expect(log.state('mcp:/mcp:s1:s')).toBeDefined();
    await store.clear();
    expect(log.state('mcp:/mcp:s1:s')).toBeUndefined();
  });
});
