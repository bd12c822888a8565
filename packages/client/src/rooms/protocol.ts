/** A member of a room: its id and what it told about itself when joining. */
export interface RoomMember {
  readonly id: string;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Server → client messages of the room protocol (PROTOCOL.md §8). */
export type RoomServerMessage =
  | { readonly type: 'join_ack'; readonly room: string; readonly members: readonly RoomMember[] }
  | {
      readonly type: 'presence';
      readonly room: string;
      readonly action: 'join' | 'leave';
      readonly memberId: string;
      readonly metadata: Readonly<Record<string, unknown>>;
    }
  | {
      readonly type: 'message';
      readonly room: string;
      readonly id: number | undefined;
      readonly from: string;
      readonly data: unknown;
    }
  | { readonly type: 'typing'; readonly room: string; readonly memberId: string; readonly typing: boolean }
  | { readonly type: 'error'; readonly room: string; readonly data: string }
  | { readonly type: 'ai'; readonly room: string; readonly from: string; readonly frame: RoomAiFrame };

/**
 * An AI frame (PROTOCOL.md §7) a room member (an AI assistant) streams to the whole room, tagged with the
 * room and the member: `{"room":"lobby","from":"assistant","type":"streaming-text","data":"Hel","sessionId":…,"seq":1}`.
 * `sessionId` is what tells it apart from the room's own frames.
 */
export interface RoomAiFrame {
  readonly sessionId: string;
  readonly seq: number;
  /** `streaming-text`, `progress`, `metadata`, `complete`, `error`… (absent on `event` frames). */
  readonly type: string | undefined;
  /** The event name of an `event` frame (`tool-start`, …). */
  readonly event: string | undefined;
  readonly data: unknown;
  readonly key: string | undefined;
  readonly value: unknown;
  /** On `error` frames: the machine-readable code. */
  readonly code: string | undefined;
}

/** Client → server messages (PROTOCOL.md §8). */
export type RoomClientMessage =
  | {
      readonly type: 'join';
      readonly room: string;
      readonly memberId: string;
      readonly metadata?: Readonly<Record<string, unknown>>;
      readonly sinceId?: number;
    }
  | { readonly type: 'leave'; readonly room: string }
  | { readonly type: 'broadcast'; readonly room: string; readonly data: unknown }
  | { readonly type: 'direct'; readonly room: string; readonly targetId: string; readonly data: unknown }
  | { readonly type: 'typing'; readonly room: string; readonly typing: boolean };

function record(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function member(value: unknown): RoomMember | undefined {
  const raw = record(value);
  return typeof raw['id'] === 'string' ? { id: raw['id'], metadata: record(raw['metadata']) } : undefined;
}

/** Reads a room message from a text; `undefined` when it is not one (not JSON, unknown type, no room). */
export function parseRoomMessage(text: string): RoomServerMessage | undefined {
  if (text.charCodeAt(0) !== 123 /* { */ || !text.includes('"room"')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const raw = record(value);
  const room = raw['room'];
  if (typeof room !== 'string') return undefined;
  const sessionId = raw['sessionId'];
  const seq = raw['seq'];
  if (typeof sessionId === 'string' && typeof seq === 'number') {
    const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? raw[key] : undefined);
    return {
      type: 'ai',
      room,
      from: text('from') ?? '',
      frame: {
        sessionId,
        seq,
        type: text('type'),
        event: text('event'),
        data: raw['data'],
        key: text('key'),
        value: raw['value'],
        code: text('code'),
      },
    };
  }
  switch (raw['type']) {
    case 'join_ack': {
      const members = Array.isArray(raw['members'])
        ? raw['members'].map(member).filter((m) => m !== undefined)
        : [];
      return { type: 'join_ack', room, members };
    }
    case 'presence': {
      const action = raw['action'];
      if ((action !== 'join' && action !== 'leave') || typeof raw['memberId'] !== 'string') return undefined;
      return { type: 'presence', room, action, memberId: raw['memberId'], metadata: record(raw['metadata']) };
    }
    case 'message': {
      const id = raw['id'];
      return {
        type: 'message',
        room,
        id: typeof id === 'number' && Number.isFinite(id) ? id : undefined,
        from: typeof raw['from'] === 'string' ? raw['from'] : '',
        data: raw['data'],
      };
    }
    case 'typing':
      if (typeof raw['memberId'] !== 'string') return undefined;
      return { type: 'typing', room, memberId: raw['memberId'], typing: raw['typing'] === true };
    case 'error':
      return {
        type: 'error',
        room,
        data: typeof raw['data'] === 'string' ? raw['data'] : JSON.stringify(raw['data']),
      };
    default:
      return undefined;
  }
}
