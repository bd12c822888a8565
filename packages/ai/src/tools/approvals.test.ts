import { describe, expect, test } from 'vitest';
import { ApprovalRegistry } from './approvals.ts';

describe('ApprovalRegistry', () => {
  const open = (registry: ApprovalRegistry, mayAnswer: (id: string) => boolean = () => true) =>
    registry.request({ mayAnswer });

  test.each([
    ['approve', { approved: true }],
    ['approve ', { approved: true }],
    ['deny', { approved: false, reason: 'denied' }],
    ['approve {"arguments":{"city":"Paris"}}', { approved: true, arguments: { city: 'Paris' } }],
    ['approve {"arguments":["Paris"]}', { approved: false, reason: 'malformed' }],
    ['approve {"arguments":', { approved: false, reason: 'malformed' }],
    ['approve {"city":"Paris"}', { approved: false, reason: 'malformed' }],
    ['yes', { approved: false, reason: 'malformed' }],
  ])('/__approval/<id>/%s', async (answer, decision) => {
    const registry = new ApprovalRegistry();
    const pending = open(registry);
    expect(registry.answer(`/__approval/${pending.approvalId}/${answer}`, 'r1')).toBe(
      decision.approved ? 'approved' : 'denied',
    );
    expect(await pending.decision).toEqual(decision);
    expect(registry.size).toBe(0);
  });

  test('an unknown id, a second answer and another client are all unknown', async () => {
    const registry = new ApprovalRegistry();
    const pending = open(registry, (id) => id === 'owner');
    expect(registry.answer('/__approval/nope/approve', 'owner')).toBe('unknown');
    expect(registry.answer('/__approval/../approve', 'owner')).toBe('unknown');
    expect(registry.answer(`/__approval/${pending.approvalId}/approve`, 'stranger')).toBe('unknown');
    expect(registry.answer(`/__approval/${pending.approvalId}/approve`, 'owner')).toBe('approved');
    expect(registry.answer(`/__approval/${pending.approvalId}/deny`, 'owner')).toBe('unknown');
    expect(await pending.decision).toEqual({ approved: true });
    expect(registry.answer('hello', 'owner')).toBe('not-an-approval');
  });

  test('edited arguments lose prototype keys', async () => {
    const registry = new ApprovalRegistry();
    const pending = open(registry);
    registry.answer(
      `/__approval/${pending.approvalId}/approve {"arguments":{"__proto__":{"admin":true},"city":"Paris"}}`,
      'r',
    );
    const decision = await pending.decision;
    expect(decision).toEqual({ approved: true, arguments: { city: 'Paris' } });
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });

  test('times out as a deny, and a signal cancels', async () => {
    const registry = new ApprovalRegistry({ timeoutMs: 20 });
    expect(await open(registry).decision).toEqual({ approved: false, reason: 'timeout' });
    const controller = new AbortController();
    const pending = registry.request({ mayAnswer: () => true, signal: controller.signal, timeoutMs: 60_000 });
    controller.abort();
    expect(await pending.decision).toEqual({ approved: false, reason: 'cancelled' });
    expect(pending.expiresInSeconds).toBe(60);
    expect(registry.size).toBe(0);
  });
});
