import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  AI_EVENT_NAMES,
  AI_ROLES,
  completeFrame,
  errorFrame,
  eventFrame,
  metadataFrame,
  parseAiFrame,
  parseRoleMessage,
  parseSteerMessage,
  progressFrame,
  roleMessage,
  steerMessage,
  textFrame,
} from '../src/index.ts';

describe('parseAiFrame', () => {
  test('reads every frame of PROTOCOL.md §7', () => {
    expect(parseAiFrame('{"type":"streaming-text","data":"Hel","sessionId":"s","seq":1}')).toEqual({
      type: 'streaming-text',
      data: 'Hel',
      sessionId: 's',
      seq: 1,
    });
    expect(parseAiFrame('{"type":"progress","data":"Thinking…","sessionId":"s","seq":2}')).toMatchObject({
      type: 'progress',
      data: 'Thinking…',
    });
    expect(
      parseAiFrame('{"type":"metadata","key":"ai.model","value":"gpt-4o-mini","sessionId":"s","seq":3}'),
    ).toMatchObject({
      type: 'metadata',
      key: 'ai.model',
      value: 'gpt-4o-mini',
    });
    expect(
      parseAiFrame(
        '{"event":"tool-start","data":{"toolName":"weather","arguments":{"city":"Montreal"}},"sessionId":"s","seq":4}',
      ),
    ).toEqual({
      type: 'event',
      event: 'tool-start',
      data: { toolName: 'weather', arguments: { city: 'Montreal' } },
      sessionId: 's',
      seq: 4,
    });
    expect(parseAiFrame('{"type":"complete","sessionId":"s","seq":9}')).toEqual({
      type: 'complete',
      data: undefined,
      sessionId: 's',
      seq: 9,
    });
    expect(parseAiFrame('{"type":"complete","data":"summary","sessionId":"s","seq":9}')).toMatchObject({
      data: 'summary',
    });
    expect(parseAiFrame('{"type":"error","data":"boom","sessionId":"s","seq":10}')).toMatchObject({
      type: 'error',
      data: 'boom',
    });
  });

  test('anything else is not a frame (the application gets it as a message)', () => {
    for (const text of [
      'hello',
      '{"sessionId":"s"}',
      '{"type":"streaming-text","data":"x","seq":1}',
      '{"type":"nope","sessionId":"s","seq":1}',
      '{"type":"metadata","sessionId":"s","seq":1}',
      '{"sessionId":"s","seq":1.5,"type":"progress"}',
      '{broken "sessionId"',
      '[1]',
    ]) {
      expect(parseAiFrame(text), text).toBeUndefined();
    }
  });
});

const sessionId = fc.uuid();
const seq = fc.integer({ min: 1, max: 1_000_000 });
const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));

describe('AI frames: what a server builds is what a client reads (properties)', () => {
  test('streaming-text, progress, metadata, complete and error frames round-trip', () => {
    fc.assert(
      fc.property(sessionId, seq, text, fc.jsonValue(), (id, n, value, json) => {
        expect(parseAiFrame(textFrame(value, id, n))).toEqual({
          type: 'streaming-text',
          data: value,
          sessionId: id,
          seq: n,
        });
        expect(parseAiFrame(progressFrame(value, id, n))).toEqual({
          type: 'progress',
          data: value,
          sessionId: id,
          seq: n,
        });
        expect(parseAiFrame(metadataFrame(value, json, id, n))).toEqual({
          type: 'metadata',
          key: value,
          value: JSON.parse(JSON.stringify(json)) as unknown,
          sessionId: id,
          seq: n,
        });
        expect(parseAiFrame(completeFrame(value, id, n))).toEqual({
          type: 'complete',
          data: value,
          reason: undefined,
          usage: undefined,
          sessionId: id,
          seq: n,
        });
        expect(parseAiFrame(completeFrame(undefined, id, n, 'stopped'))).toEqual({
          type: 'complete',
          data: undefined,
          reason: 'stopped',
          usage: undefined,
          sessionId: id,
          seq: n,
        });
        expect(
          parseAiFrame(completeFrame(undefined, id, n, 'stopped', { input: n, output: 2, total: n + 2 })),
        ).toEqual({
          type: 'complete',
          data: undefined,
          reason: 'stopped',
          usage: { input: n, output: 2, total: n + 2 },
          sessionId: id,
          seq: n,
        });
        expect(parseAiFrame(errorFrame(value, 'LLM_FAILED', id, n))).toEqual({
          type: 'error',
          data: value,
          code: 'LLM_FAILED',
          sessionId: id,
          seq: n,
        });
      }),
      { numRuns: 300 },
    );
  });

  test('event frames round-trip with their name and data', () => {
    fc.assert(
      fc.property(
        sessionId,
        seq,
        fc.constantFrom(...AI_EVENT_NAMES),
        fc.jsonValue(),
        (id, n, event, data) => {
          const frame = eventFrame({ event, data } as never, id, n);
          expect(parseAiFrame(frame)).toEqual({
            type: 'event',
            event,
            data: JSON.parse(JSON.stringify(data)) as unknown,
            sessionId: id,
            seq: n,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('data JSON cannot encode becomes null instead of breaking the frame', () => {
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(parseAiFrame(metadataFrame('k', cycle, 's', 1))).toMatchObject({ type: 'metadata', value: null });
    expect(
      parseAiFrame(eventFrame({ event: 'tool-result', data: { toolName: 't', result: 1n } }, 's', 2)),
    ).toMatchObject({ type: 'event', data: null });
  });
});

describe('steer and role messages', () => {
  test('a steer message round-trips; a malformed one is not a steer', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        fc.string(),
        (runId, steerId, text) => {
          expect(parseSteerMessage(steerMessage(runId, steerId, text))).toEqual({
            runId,
            steerId,
            text: text.trim(),
          });
        },
      ),
      { numRuns: 200 },
    );
    expect(parseSteerMessage('/__stop/run')).toBeUndefined();
    expect(parseSteerMessage('/__steer/run shorter please')).toBeUndefined();
    expect(parseSteerMessage('/__steer//s1 text')).toBeUndefined();
    expect(parseSteerMessage('/__steer/run/bad!id text')).toBeUndefined();
    expect(parseSteerMessage('/__steer/run/s1')).toEqual({ runId: 'run', steerId: 's1', text: '' });
  });

  test('a role message round-trips for every role; anything else is not one', () => {
    for (const role of AI_ROLES)
      expect(parseRoleMessage(roleMessage('r1', role))).toEqual({ runId: 'r1', role });
    expect(parseRoleMessage('{"type":"ai-role","runId":"r1","role":"admin"}')).toBeUndefined();
    expect(parseRoleMessage('{"type":"ai-role","role":"viewer"}')).toBeUndefined();
    expect(parseRoleMessage('{"type":"ai-role",')).toBeUndefined();
    expect(parseAiFrame(roleMessage('r1', 'viewer'))).toBeUndefined();
  });
});
