import { parsePositionedText } from '@atmosphere/protocol';
import { describe, expect, test } from 'vitest';
import { StreamSequencer } from '../src/broadcast/stream-sequencer.ts';
import { EncodedMessage } from '../src/delivery/encoded-message.ts';
import { MemoryStreamLog } from '../src/log/memory-stream-log.ts';
import { recordingLogger } from '../src/testing/index.ts';

/**
 * The stream sequencer against a real log (the memory store, standing in for a shared one: the sequencer only
 * reads it): what a node delivers of each stream is in log order, every jump filled or reset first, nothing
 * twice. The cluster behaviour over Redis is in packages/redis/test/cluster-gaps.test.ts.
 */
function setup() {
  const log = new MemoryStreamLog();
  const out: string[] = [];
  const sequencer = new StreamSequencer(log, recordingLogger(), {
    deliver: (_stream, message, targets) =>
      out.push(
        `${message.position!.seq}:${String(message.payload)}${targets ? `>${targets.join(',')}` : ''}`,
      ),
    reset: (_stream, reset) => {
      const frame = parsePositionedText(String(reset.payload));
      if (frame?.kind !== 'reset') throw new Error('not a reset frame');
      out.push(`reset ${frame.reset.from.seq}->${frame.reset.resumeAt?.seq}`);
      return 0;
    },
  });
  /** Appends `payload` and returns the message as it would be relayed (positioned). */
  const append = (payload: string, targets?: string[]): EncodedMessage => {
    const position = log.append('/s', [targets ? { payload, targets } : { payload }]);
    const message = new EncodedMessage(payload, '/s');
    message.position = position;
    return message;
  };
  /** What a node does with a positioned message: deliver now when admitted. */
  const offer = (message: EncodedMessage, targets?: string[]): void => {
    if (sequencer.admit('/s', message, targets, undefined))
      out.push(`${message.position!.seq}:${String(message.payload)}`);
  };
  return { log, out, sequencer, append, offer };
}

describe('StreamSequencer', () => {
  test('consecutive positions go straight through; one already delivered is left out', () => {
    const { out, sequencer, append, offer } = setup();
    const [m1, m2] = [append('m1'), append('m2')];
    offer(m1);
    offer(m2);
    offer(m2);
    expect(out).toEqual(['1:m1', '2:m2']);
    expect(sequencer.stats()).toMatchObject({ duplicates: 1, filled: 0, resets: 0 });
  });

  test('a jump is filled from the log (targets kept) before the newer message and what follows it', async () => {
    const { out, sequencer, append, offer } = setup();
    offer(append('m1'));
    append('m2', ['t1']);
    append('m3');
    const m4 = append('m4');
    const m5 = append('m5');
    offer(m4);
    offer(m5);
    await sequencer.settled();
    expect(out).toEqual(['1:m1', '2:m2>t1', '3:m3', '4:m4', '5:m5']);
    // The relays of m2 and m3 arrive late: left out.
    expect(sequencer.stats()).toMatchObject({ filled: 2, resets: 0, duplicates: 0 });
  });

  test('what the log no longer holds is a reset before what it holds and the newer message', async () => {
    const { log, out, sequencer, append, offer } = setup();
    offer(append('m1'));
    append('m2');
    append('m3');
    append('m4');
    log.trim('/s', 4);
    offer(append('m5'));
    await sequencer.settled();
    expect(out).toEqual(['1:m1', 'reset 2->4', '4:m4', '5:m5']);
  });

  test('a stream whose history the log lost (another epoch) is a reset, then the new epoch from its start', async () => {
    const { log, out, sequencer, append, offer } = setup();
    offer(append('m1'));
    log.delete('/s');
    append('n1');
    offer(append('n2'));
    await sequencer.settled();
    expect(out).toEqual(['1:m1', 'reset 2->1', '1:n1', '2:n2']);
  });

  test('open: the stream starts where the log stands; reconcile reads on without a newer message', async () => {
    const { out, sequencer, append, offer } = setup();
    append('old1');
    append('old2');
    sequencer.open('/s');
    await sequencer.settled();
    append('m3');
    append('m4');
    await sequencer.reconcile();
    expect(out).toEqual(['3:m3', '4:m4']);
    offer(append('m5'));
    expect(out).toEqual(['3:m3', '4:m4', '5:m5']);
  });

  test('open: a relay placed before the log answered but arriving after it is delivered, with what follows', async () => {
    const { out, sequencer, append, offer } = setup();
    // m1 is placed while the stream opens here; its relay is still on its way when the log answers (last 1).
    const m1 = append('m1');
    sequencer.open('/s');
    await sequencer.settled();
    offer(m1);
    offer(append('m2'));
    offer(m1);
    expect(out).toEqual(['1:m1', '2:m2']);
    expect(sequencer.stats()).toMatchObject({ duplicates: 1, filled: 0, resets: 0 });
  });

  test('open: once a newer message was delivered, an older relay is history and left out', async () => {
    const { out, sequencer, append, offer } = setup();
    const old = append('old');
    sequencer.open('/s');
    await sequencer.settled();
    append('m2');
    offer(append('m3'));
    await sequencer.settled();
    offer(old);
    expect(out).toEqual(['2:m2', '3:m3']);
    expect(sequencer.stats()).toMatchObject({ duplicates: 1, filled: 1 });
  });

  test('open on a stream the log does not hold yet: everything of it is delivered, from seq 1', async () => {
    const { out, sequencer, append, offer } = setup();
    sequencer.open('/s');
    await sequencer.settled();
    append('m1');
    offer(append('m2'));
    await sequencer.settled();
    expect(out).toEqual(['1:m1', '2:m2']);
  });
});
