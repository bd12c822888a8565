/**
 * Prompt attachments (PROTOCOL.md §7, the JSON prompt's `attachments`): images sent with a prompt, as bare
 * base64 bytes. URLs are not accepted — a server that fetched them would fetch whatever a client names (SSRF).
 */

/** The media types an image attachment may have. */
export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

/** One of {@link IMAGE_MEDIA_TYPES}. */
export type ImageMediaType = (typeof IMAGE_MEDIA_TYPES)[number];

/** An image: its media type and its bytes in standard base64 (padded, no `data:` prefix, no line breaks). */
export interface ImageAttachment {
  readonly type: 'image';
  readonly mediaType: ImageMediaType;
  readonly data: string;
}

/** What a prompt may carry besides its text (images, for now). */
export type PromptAttachment = ImageAttachment;

/** Bounds on a prompt's attachments, in decoded bytes. */
export interface AttachmentLimits {
  /** Most attachments in one prompt. */
  readonly maxCount: number;
  /** Most bytes of one attachment (decoded). */
  readonly maxBytes: number;
  /** Most bytes of all the attachments of one prompt (decoded). */
  readonly maxTotalBytes: number;
}

/**
 * Small by default: four images of up to 512 KiB, 640 KiB in all — whose base64 (about 853 KiB) fits in a server's
 * default 1 MiB message limit (`maxMessageBytes`), which a larger setting also needs raising.
 */
export const DEFAULT_ATTACHMENT_LIMITS: AttachmentLimits = {
  maxCount: 4,
  maxBytes: 512 * 1024,
  maxTotalBytes: 640 * 1024,
};

const MEDIA_TYPES: ReadonlySet<string> = new Set(IMAGE_MEDIA_TYPES);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const KEYS: ReadonlySet<string> = new Set(['type', 'mediaType', 'data']);

/** The decoded length of standard, padded base64 text; -1 when it is not that (wrong alphabet, length, padding). */
export function base64ByteLength(data: string): number {
  if (data.length % 4 !== 0 || !BASE64.test(data)) return -1;
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}

/** The first bytes of base64 text (a multiple of 4 characters, already checked). */
function leadingBytes(data: string, count: number): number[] {
  const bytes: number[] = [];
  for (let i = 0; i + 3 < data.length && bytes.length < count; i += 4) {
    const n = [0, 1, 2, 3].map((k) => Math.max(0, ALPHABET.indexOf(data[i + k]!)));
    const word = (n[0]! << 18) | (n[1]! << 12) | (n[2]! << 6) | n[3]!;
    bytes.push((word >> 16) & 255, (word >> 8) & 255, word & 255);
  }
  return bytes.slice(0, count);
}

/** Do the bytes start with the signature of their declared type? (A PNG said to be a GIF, or HTML, is not.) */
function signatureMatches(mediaType: ImageMediaType, b: readonly number[]): boolean {
  const starts = (sig: readonly number[], at = 0): boolean => sig.every((v, i) => b[at + i] === v);
  switch (mediaType) {
    case 'image/png':
      return starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    case 'image/jpeg':
      return starts([0xff, 0xd8, 0xff]);
    case 'image/gif':
      return starts([0x47, 0x49, 0x46, 0x38]) && (b[4] === 0x37 || b[4] === 0x39) && b[5] === 0x61;
    case 'image/webp':
      return starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8);
  }
}

/**
 * Reads the `attachments` member of a JSON prompt, untrusted: an array of at most `limits.maxCount`
 * `{"type":"image","mediaType":…,"data":…}` objects (no other member), each a media type of
 * {@link IMAGE_MEDIA_TYPES}, standard base64 whose bytes start with that type's signature, at most
 * `limits.maxBytes` decoded, `limits.maxTotalBytes` in all. The first fault refuses the whole list, with a message
 * naming the attachment, what is wrong, and the option that raises a limit. Lengths are checked before any
 * pattern is run, so an oversized value costs nothing to refuse.
 */
export function parseAttachments(
  value: unknown,
  limits: AttachmentLimits = DEFAULT_ATTACHMENT_LIMITS,
): { ok: true; value: PromptAttachment[] } | { ok: false; message: string } {
  const fail = (message: string) => ({ ok: false as const, message });
  if (!Array.isArray(value))
    return fail('"attachments" must be an array of {"type":"image","mediaType":…,"data":…} objects.');
  if (value.length > limits.maxCount)
    return fail(
      `The prompt has ${value.length} attachments; the limit is ${limits.maxCount} (option attachments.maxCount).`,
    );
  const attachments: PromptAttachment[] = [];
  let total = 0;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const which = `Attachment ${i + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      return fail(`${which} must be an object {"type":"image","mediaType":…,"data":…}.`);
    const record = item as Record<string, unknown>;
    const extra = Object.keys(record).find((key) => !KEYS.has(key));
    if (extra !== undefined)
      return fail(
        extra === 'url'
          ? `${which}: URLs are not accepted (the server does not fetch them); send the image's bytes as base64 "data".`
          : `${which} has an unknown member "${extra.slice(0, 32)}"; only type, mediaType and data are allowed.`,
      );
    if (record['type'] !== 'image') return fail(`${which}: "type" must be "image".`);
    const mediaType = record['mediaType'];
    if (typeof mediaType !== 'string' || !MEDIA_TYPES.has(mediaType))
      return fail(`${which}: "mediaType" must be one of ${IMAGE_MEDIA_TYPES.join(', ')}.`);
    const data = record['data'];
    if (typeof data !== 'string' || data.length === 0)
      return fail(`${which}: "data" must be the image's bytes as a non-empty base64 string.`);
    // Four characters carry three bytes: anything longer than the limit's encoding is too large, unread.
    if (data.length > Math.ceil(limits.maxBytes / 3) * 4)
      return fail(
        `${which} is larger than ${limits.maxBytes} bytes, the limit per attachment (option attachments.maxBytes).`,
      );
    const bytes = base64ByteLength(data);
    if (bytes < 0)
      return fail(
        data.startsWith('data:') || data.startsWith('http')
          ? `${which}: "data" must be bare base64, not a URL (drop the "data:…;base64," prefix).`
          : `${which}: "data" is not valid base64 (standard alphabet, padded with "=", no spaces or line breaks).`,
      );
    if (bytes > limits.maxBytes)
      return fail(
        `${which} has ${bytes} bytes; the limit per attachment is ${limits.maxBytes} (option attachments.maxBytes).`,
      );
    total += bytes;
    if (total > limits.maxTotalBytes)
      return fail(
        `The attachments have more than ${limits.maxTotalBytes} bytes in all, the limit per prompt (option attachments.maxTotalBytes).`,
      );
    const image = mediaType as ImageMediaType;
    if (!signatureMatches(image, leadingBytes(data, 12)))
      return fail(`${which}: its bytes are not of type ${image} (the signature does not match "mediaType").`);
    attachments.push({ type: 'image', mediaType: image, data });
  }
  return { ok: true, value: attachments };
}
