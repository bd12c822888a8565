import { describe, expect, test } from 'vitest';
import { base64ByteLength, DEFAULT_ATTACHMENT_LIMITS, parseAttachments } from '../src/index.ts';

const bytes = (...values: number[]): string => Buffer.from(values).toString('base64');

describe('prompt attachments', () => {
  test('base64ByteLength is the decoded length of standard padded base64, -1 for anything else', () => {
    for (let n = 0; n < 20; n++) expect(base64ByteLength(Buffer.alloc(n, 0xfb).toString('base64'))).toBe(n);
    for (const bad of ['A', 'AB=', 'AAA==A', '-_AA', 'AA AA', 'AA\nA', 'AAA=AAAA', '====', 'A==='])
      expect(base64ByteLength(bad)).toBe(-1);
  });

  test('each media type is checked against the bytes it announces', () => {
    const signatures = {
      'image/png': bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13),
      'image/jpeg': bytes(0xff, 0xd8, 0xff, 0xdb),
      'image/gif': Buffer.from('GIF87a\x01\x00', 'latin1').toString('base64'),
      'image/webp': Buffer.from('RIFF\x00\x00\x00\x00WEBP', 'latin1').toString('base64'),
    } as const;
    for (const [declared, data] of Object.entries(signatures))
      for (const mediaType of Object.keys(signatures)) {
        const result = parseAttachments([{ type: 'image', mediaType, data }]);
        expect(result.ok, `${declared} bytes declared ${mediaType}`).toBe(mediaType === declared);
      }
    expect(
      parseAttachments([
        { type: 'image', mediaType: 'image/gif', data: bytes(0x47, 0x49, 0x46, 0x38, 0x38, 0x61) },
      ]).ok,
    ).toBe(false);
  });

  test('the defaults fit a default 1 MiB message, and a zero count refuses any attachment', () => {
    const limits = DEFAULT_ATTACHMENT_LIMITS;
    expect(Math.ceil(limits.maxTotalBytes / 3) * 4 + limits.maxCount * 256).toBeLessThan(
      1024 * 1024 - 100_000,
    );
    expect(parseAttachments([], { ...limits, maxCount: 0 })).toEqual({ ok: true, value: [] });
    expect(parseAttachments([{}], { ...limits, maxCount: 0 }).ok).toBe(false);
  });
});
