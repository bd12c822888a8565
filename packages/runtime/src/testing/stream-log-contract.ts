import { afterEach, describe, expect, test } from 'vitest';
import { AtmosphereError } from '../errors.ts';
import type { LogEntry, LogRead, LogRecord, StreamLog } from '../spi/stream-log.ts';

/** How the contract suite gets the store under test. */
export interface StreamLogContractOptions {
  /** A fresh store, on storage no other test uses (a new file, a new key prefix, new topics). */
  create(): StreamLog | Promise<StreamLog>;
  /**
   * Durable stores: closes `log` and opens a new store on the same storage, as a restarted process would.
   * The suite then checks that epochs, records and numbering survived.
   */
  reopen?(log: StreamLog): StreamLog | Promise<StreamLog>;
  /**
   * Durable stores: destroys the storage behind `log` the way an operator or a failure would (the file
   * replaced, the keys flushed) and returns a store on the emptied storage. The suite checks that every stream
   * gets a new epoch.
   */
  loseHistory?(log: StreamLog): StreamLog | Promise<StreamLog>;
  /**
   * Makes the storage behind `log` refuse writes the way it fails in production (a write error inside the
   * transaction, a server that refuses writes), keeping what it holds; resolves to a function that lets
   * writes through again. The suite then checks that every append waiting on a refused write rejects with
   * `LOG_FAILED`, that none of their entries is stored, and that numbering goes on without a hole. Stores
   * that take a turn's appends together (`batchAppends`) should give it.
   */
  failWrites?(log: StreamLog): (() => unknown) | Promise<() => unknown>;
  /** Per-test timeout. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

let streamCounter = 0;
/** A stream name no other test of the run uses (stores may share storage between tests). */
function streamName(label: string): string {
  return `contract.${label}.${process.pid}.${Date.now().toString(36)}.${++streamCounter}`;
}

function texts(read: LogRead | undefined): (string | Uint8Array)[] {
  return read?.records.map((r) => r.payload) ?? [];
}

/** An entry or record as plain data (bytes as a number list), without seq and time, for deep equality. */
function comparable(entry: LogEntry): unknown {
  return {
    payload: typeof entry.payload === 'string' ? entry.payload : [...entry.payload],
    binary: typeof entry.payload !== 'string',
    targets: entry.targets,
    exclude: entry.exclude,
  };
}

/**
 * The contract of a log store (provider kind `stream-log`), as a vitest `describe` block, run against the real
 * store: numbering, exact read-back of text and bytes, targets and exclude, ordering of appends that are not
 * awaited one by one, reads after a position and with a limit, trimming (gaps detectable), deletion (a new
 * epoch), unknown streams, long appends and several in one turn (contiguous, each entry exact), durability
 * across a reopen (when `reopen` is given), a new epoch after lost history (when `loseHistory` is given),
 * refused writes reported to every append and storing nothing (when `failWrites` is given), fencing (stores that
 * declare it: stale writers refused with `LOG_FENCED`, the fence kept across a reopen), and `CLOSED` after
 * `close()`.
 */
export function streamLogContract(name: string, options: StreamLogContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;

  describe(`${name}: stream-log contract`, () => {
    const open: StreamLog[] = [];
    const make = async (): Promise<StreamLog> => {
      const log = await options.create();
      open.push(log);
      return log;
    };
    afterEach(async () => {
      for (const log of open.splice(0)) await log.close().catch(() => undefined);
    });

    test(
      'appends number a new stream 1, 2, 3… in one epoch; state says where it stands',
      async () => {
        const log = await make();
        const stream = streamName('numbering');
        expect(await log.state(stream)).toBeUndefined();
        const first = await log.append(stream, [{ payload: 'a' }]);
        expect(first.seq).toBe(1);
        expect(typeof first.epoch).toBe('string');
        expect(first.epoch.length).toBeGreaterThanOrEqual(8);
        const next = await log.append(stream, [{ payload: 'b' }, { payload: 'c' }, { payload: 'd' }]);
        expect(next).toEqual({ epoch: first.epoch, seq: 2 });
        expect(await log.state(stream)).toEqual({ epoch: first.epoch, first: 1, last: 4 });
      },
      timeout,
    );

    test(
      'reads back exactly what was appended: text, bytes, targets, exclude, and the time',
      async () => {
        const log = await make();
        const stream = streamName('exact');
        const bytes = Uint8Array.from([0, 1, 2, 250, 255, 0]);
        const unicode = 'é ✓ 𝄞 "quoted" \\ \n\r\t {"json":[1,2]}';
        const before = Date.now();
        await log.append(stream, [
          { payload: 'plain' },
          { payload: bytes },
          { payload: unicode, targets: ['t-1', 't-2'] },
          { payload: '', exclude: 'sender-1' },
          { payload: 'x'.repeat(256 * 1024) },
        ]);
        const after = Date.now();
        const read = await log.read(stream, 0);
        expect(read?.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
        const [plain, binary, addressed, excluding, large] = read!.records;
        expect(plain!.payload).toBe('plain');
        expect(plain!.targets).toBeUndefined();
        expect(plain!.exclude).toBeUndefined();
        expect(binary!.payload).toBeInstanceOf(Uint8Array);
        expect([...(binary!.payload as Uint8Array)]).toEqual([...bytes]);
        expect(addressed!.payload).toBe(unicode);
        expect(addressed!.targets).toEqual(['t-1', 't-2']);
        expect(excluding!.payload).toBe('');
        expect(excluding!.exclude).toBe('sender-1');
        expect(large!.payload).toBe('x'.repeat(256 * 1024));
        for (const record of read!.records) {
          // Stores may keep the time to the second (or to the millisecond): allow a second of rounding.
          expect(record.time).toBeGreaterThanOrEqual(before - 1_000);
          expect(record.time).toBeLessThanOrEqual(after + 1_000);
        }
      },
      timeout,
    );

    test(
      'appends made without waiting keep the order they were called in, per stream',
      async () => {
        const log = await make();
        const a = streamName('order-a');
        const b = streamName('order-b');
        const pending: Promise<unknown>[] = [];
        for (let i = 0; i < 200; i++) {
          pending.push(Promise.resolve(log.append(a, [{ payload: `a${i}` }])));
          if (i % 3 === 0) pending.push(Promise.resolve(log.append(b, [{ payload: `b${i}` }])));
        }
        await Promise.all(pending);
        const readA = await log.read(a, 0, { limit: 1_000 });
        expect(texts(readA)).toEqual(Array.from({ length: 200 }, (_, i) => `a${i}`));
        expect(readA!.records.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        const readB = await log.read(b, 0, { limit: 1_000 });
        expect(texts(readB)).toEqual(
          Array.from({ length: 200 }, (_, i) => i)
            .filter((i) => i % 3 === 0)
            .map((i) => `b${i}`),
        );
      },
      timeout,
    );

    test(
      'batches: long appends and several in one turn are numbered contiguously, each entry read back as given',
      async () => {
        const log = await make();
        const a = streamName('batch-a');
        const b = streamName('batch-b');
        const entry = (label: string, i: number): LogEntry =>
          i % 7 === 3
            ? { payload: Uint8Array.from([i % 256, 0, 255]) }
            : i % 5 === 1
              ? { payload: `${label}${i}`, targets: [`t-${i}`] }
              : i % 11 === 2
                ? { payload: `${label}${i}`, exclude: `x-${i}` }
                : { payload: `${label}${i}` };
        const first = Array.from({ length: 1_000 }, (_, i) => entry('a', i));
        const second = Array.from({ length: 500 }, (_, i) => entry('a', 1_000 + i));
        const other = Array.from({ length: 300 }, (_, i) => entry('b', i));
        // Issued together, not awaited one by one: the store may write them in one go.
        const [pa1, pb, pa2, pa3] = await Promise.all([
          Promise.resolve(log.append(a, first)),
          Promise.resolve(log.append(b, other)),
          Promise.resolve(log.append(a, second)),
          Promise.resolve(log.append(a, [{ payload: 'last' }])),
        ]);
        expect(pa1.seq).toBe(1);
        expect(pa2).toEqual({ epoch: pa1.epoch, seq: 1_001 });
        expect(pa3).toEqual({ epoch: pa1.epoch, seq: 1_501 });
        expect(pb.seq).toBe(1);
        const expected = [...first, ...second, { payload: 'last' }];
        const records: LogRecord[] = [];
        let after = 0;
        while (records.length < expected.length) {
          const read = await log.read(a, after, { limit: 1_000 });
          if (read === undefined || read.records.length === 0) break;
          records.push(...read.records);
          after = read.records.at(-1)!.seq;
        }
        expect(records.map((r) => r.seq)).toEqual(expected.map((_, i) => i + 1));
        expect(records.map(comparable)).toEqual(expected.map(comparable));
        const readB = await log.read(b, 0, { limit: 1_000 });
        expect(readB?.records.map(comparable)).toEqual(other.map(comparable));
        expect(await log.state(a)).toEqual({ epoch: pa1.epoch, first: 1, last: 1_501 });
      },
      timeout,
    );

    test(
      'reads after a position, with a limit, and past the end',
      async () => {
        const log = await make();
        const stream = streamName('read');
        const entries: LogEntry[] = Array.from({ length: 50 }, (_, i) => ({ payload: `m${i + 1}` }));
        const { epoch } = await log.append(stream, entries);
        const middle = await log.read(stream, 20, { limit: 5 });
        expect(middle).toMatchObject({ epoch, first: 1, last: 50 });
        expect(texts(middle)).toEqual(['m21', 'm22', 'm23', 'm24', 'm25']);
        const rest = await log.read(stream, 45);
        expect(texts(rest)).toEqual(['m46', 'm47', 'm48', 'm49', 'm50']);
        const end = await log.read(stream, 50);
        expect(end).toMatchObject({ epoch, last: 50, records: [] });
        const beyond = await log.read(stream, 70);
        expect(beyond?.records).toEqual([]);
        const all = await log.read(stream, 0, { limit: 1_000 });
        expect(all?.records).toHaveLength(50);
      },
      timeout,
    );

    test(
      'trimming drops the oldest records and keeps the numbering: a reader behind it sees the gap',
      async () => {
        const log = await make();
        const stream = streamName('trim');
        const { epoch } = await log.append(
          stream,
          Array.from({ length: 10 }, (_, i) => ({ payload: `m${i + 1}` })),
        );
        await log.trim(stream, 7);
        expect(await log.state(stream)).toEqual({ epoch, first: 7, last: 10 });
        const behind = await log.read(stream, 2);
        expect(behind?.first).toBe(7);
        expect(behind?.records[0]?.seq).toBe(7);
        expect(texts(behind)).toEqual(['m7', 'm8', 'm9', 'm10']);
        await log.trim(stream, 11);
        expect(await log.state(stream)).toEqual({ epoch, first: 11, last: 10 });
        const empty = await log.read(stream, 3);
        expect(empty).toMatchObject({ epoch, first: 11, last: 10, records: [] });
        const next = await log.append(stream, [{ payload: 'm11' }]);
        expect(next).toEqual({ epoch, seq: 11 });
      },
      timeout,
    );

    test(
      'deleting a stream forgets it; its next append starts a new epoch at 1',
      async () => {
        const log = await make();
        const stream = streamName('delete');
        const old = await log.append(stream, [{ payload: 'old' }, { payload: 'older' }]);
        await log.delete(stream);
        expect(await log.state(stream)).toBeUndefined();
        expect(await log.read(stream, 0)).toBeUndefined();
        const fresh = await log.append(stream, [{ payload: 'new' }]);
        expect(fresh.seq).toBe(1);
        expect(fresh.epoch).not.toBe(old.epoch);
        expect(texts(await log.read(stream, 0))).toEqual(['new']);
        await log.delete(streamName('never-appended'));
      },
      timeout,
    );

    test(
      'streams are independent: numbering, epochs and records',
      async () => {
        const log = await make();
        const a = streamName('independent-a');
        const b = streamName('independent-b');
        const positionA = await log.append(a, [{ payload: '1' }, { payload: '2' }]);
        const positionB = await log.append(b, [{ payload: 'only' }]);
        expect(positionB.seq).toBe(1);
        expect(positionB.epoch).not.toBe(positionA.epoch);
        expect(texts(await log.read(b, 0))).toEqual(['only']);
        expect((await log.state(a))?.last).toBe(2);
      },
      timeout,
    );

    test(
      'after close(), every call fails with CLOSED',
      async () => {
        const log = await options.create();
        const stream = streamName('closed');
        await log.append(stream, [{ payload: 'x' }]);
        await log.close();
        const calls: (() => unknown)[] = [
          () => log.append(stream, [{ payload: 'y' }]),
          () => log.read(stream, 0),
          () => log.state(stream),
          () => log.trim(stream, 1),
          () => log.delete(stream),
        ];
        for (const call of calls) {
          let failure: unknown;
          try {
            await call();
          } catch (error) {
            failure = error;
          }
          expect(AtmosphereError.isInstance(failure) && failure.code === 'CLOSED').toBe(true);
        }
        await log.close();
      },
      timeout,
    );

    /** The code an append is refused with, or 'stored' when it was taken. */
    const outcomeOf = async (call: () => unknown): Promise<string> => {
      try {
        await call();
        return 'stored';
      } catch (error) {
        return AtmosphereError.isInstance(error) ? error.code : String(error);
      }
    };

    test(
      "fencing (stores that declare it): an append under a token below the stream's fence is refused with LOG_FENCED and stores nothing; numbering goes on; a fence never goes down and does not create the stream",
      async () => {
        const log = await make();
        // Declared and offered together.
        expect(log.fencing === true).toBe(typeof log.fence === 'function');
        if (log.fencing !== true) return;
        const stream = streamName('fenced');
        await log.fence!(stream, 2);
        expect(await log.state(stream)).toBeUndefined();
        expect(await log.read(stream, 0)).toBeUndefined();
        expect(await outcomeOf(() => log.append(stream, [{ payload: 'stale' }], { fence: 1 }))).toBe(
          'LOG_FENCED',
        );
        const first = await log.append(stream, [{ payload: 'a' }], { fence: 2 });
        expect(first.seq).toBe(1);
        // Unfenced writers are not refused; a higher token is taken (and does not raise the fence by itself).
        expect((await log.append(stream, [{ payload: 'b' }])).seq).toBe(2);
        expect((await log.append(stream, [{ payload: 'c' }], { fence: 5 })).seq).toBe(3);
        expect((await log.append(stream, [{ payload: 'd' }], { fence: 2 })).seq).toBe(4);
        await log.fence!(stream, 3);
        // Lowering is ignored: 2 stays refused after a fence at 3, whatever comes after.
        await log.fence!(stream, 1);
        expect(
          await outcomeOf(() => log.append(stream, [{ payload: 'e1' }, { payload: 'e2' }], { fence: 2 })),
        ).toBe('LOG_FENCED');
        expect(await log.append(stream, [{ payload: 'f' }], { fence: 3 })).toEqual({
          epoch: first.epoch,
          seq: 5,
        });
        expect(texts(await log.read(stream, 0))).toEqual(['a', 'b', 'c', 'd', 'f']);
        expect(await log.state(stream)).toEqual({ epoch: first.epoch, first: 1, last: 5 });
        // Another stream is not fenced by it.
        expect((await log.append(streamName('unfenced'), [{ payload: 'x' }], { fence: 0 })).seq).toBe(1);
        // delete forgets the fence with the stream.
        await log.delete(stream);
        expect((await log.append(stream, [{ payload: 'new' }], { fence: 0 })).seq).toBe(1);
        if (options.reopen) {
          const kept = streamName('fence-kept');
          await log.fence!(kept, 7);
          const reopened = await options.reopen(log);
          open.push(reopened);
          expect(await outcomeOf(() => reopened.append(kept, [{ payload: 'stale' }], { fence: 6 }))).toBe(
            'LOG_FENCED',
          );
          expect((await reopened.append(kept, [{ payload: 'ok' }], { fence: 7 })).seq).toBe(1);
        }
      },
      timeout,
    );

    test(
      'fencing (stores that declare it): appends issued together under different tokens — only those below the fence are refused, the rest stored in order without a hole',
      async () => {
        const log = await make();
        if (log.fencing !== true) {
          expect('fence' in log && log.fence !== undefined).toBe(false);
          return;
        }
        const stream = streamName('fenced-turn');
        await log.append(stream, [{ payload: 'before' }], { fence: 0 });
        await log.fence!(stream, 1);
        // One turn: a store that writes a turn's appends together must not refuse the newer ones with the stale.
        const issue = (call: () => unknown): Promise<unknown> => {
          try {
            return Promise.resolve(call());
          } catch (error) {
            return Promise.reject(error instanceof Error ? error : new Error(String(error)));
          }
        };
        const calls = [
          issue(() => log.append(stream, [{ payload: 'new-1' }], { fence: 1 })),
          issue(() => log.append(stream, [{ payload: 'old-1' }, { payload: 'old-2' }], { fence: 0 })),
          issue(() => log.append(stream, [{ payload: 'new-2' }], { fence: 1 })),
        ];
        const outcomes = await Promise.all(calls.map((call) => outcomeOf(() => call)));
        expect(outcomes).toEqual(['stored', 'LOG_FENCED', 'stored']);
        expect(texts(await log.read(stream, 0))).toEqual(['before', 'new-1', 'new-2']);
        expect(await log.state(stream)).toMatchObject({ first: 1, last: 3 });
      },
      timeout,
    );

    if (options.failWrites) {
      const failWrites = (log: StreamLog) => options.failWrites!(log);
      test(
        'a refused write rejects every append waiting on it with LOG_FAILED; none is stored, no hole follows',
        async () => {
          const log = await make();
          const a = streamName('refused-a');
          const b = streamName('refused-b');
          const kept = await log.append(a, [{ payload: 'kept' }]);
          const restore = await failWrites(log);
          let outcomes: PromiseSettledResult<unknown>[];
          try {
            // Issued together, as one turn's appends: a store that writes them in one go fails them together.
            const calls: Promise<unknown>[] = [];
            for (const call of [
              () => log.append(a, [{ payload: 'x1' }, { payload: 'x2' }]),
              () => log.append(b, [{ payload: 'y1' }]),
              () => log.append(a, [{ payload: 'x3', targets: ['t'] }]),
            ]) {
              try {
                calls.push(Promise.resolve(call()));
              } catch (error) {
                calls.push(Promise.reject(error instanceof Error ? error : new Error(String(error))));
              }
            }
            outcomes = await Promise.allSettled(calls);
          } finally {
            await restore();
          }
          expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
          for (const outcome of outcomes) {
            const reason = (outcome as PromiseRejectedResult).reason as unknown;
            expect(AtmosphereError.isInstance(reason) && reason.code).toBe('LOG_FAILED');
          }
          expect(await log.state(a)).toEqual({ epoch: kept.epoch, first: 1, last: 1 });
          expect(texts(await log.read(a, 0))).toEqual(['kept']);
          expect(await log.state(b)).toBeUndefined();
          expect(await log.append(a, [{ payload: 'after' }])).toEqual({ epoch: kept.epoch, seq: 2 });
          expect(texts(await log.read(a, 0))).toEqual(['kept', 'after']);
        },
        timeout,
      );
    }

    if (options.reopen) {
      const reopen = (log: StreamLog) => options.reopen!(log);
      test(
        'durable: a reopened store keeps every epoch, record and the numbering',
        async () => {
          const log = await options.create();
          const stream = streamName('durable');
          const position = await log.append(stream, [
            { payload: 'before', targets: ['t'] },
            { payload: Uint8Array.from([9, 8, 7]) },
          ]);
          const reopened = await reopen(log);
          open.push(reopened);
          expect(await reopened.state(stream)).toEqual({ epoch: position.epoch, first: 1, last: 2 });
          const read = await reopened.read(stream, 0);
          expect(read?.records[0]).toMatchObject({ seq: 1, payload: 'before', targets: ['t'] });
          expect([...(read!.records[1]!.payload as Uint8Array)]).toEqual([9, 8, 7]);
          expect(await reopened.append(stream, [{ payload: 'after' }])).toEqual({
            epoch: position.epoch,
            seq: 3,
          });
        },
        timeout,
      );
    }

    if (options.loseHistory) {
      const loseHistory = (log: StreamLog) => options.loseHistory!(log);
      test(
        'lost history: a stream whose records were destroyed gets a new epoch',
        async () => {
          const log = await options.create();
          const stream = streamName('lost');
          const before = await log.append(stream, [{ payload: 'gone' }]);
          const emptied = await loseHistory(log);
          open.push(emptied);
          const state = await emptied.state(stream);
          expect(state === undefined || state.epoch !== before.epoch).toBe(true);
          const after = await emptied.append(stream, [{ payload: 'new' }]);
          expect(after.epoch).not.toBe(before.epoch);
          expect(after.seq).toBe(1);
        },
        timeout,
      );
    }
  });
}
