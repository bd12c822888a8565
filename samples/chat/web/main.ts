import {
  AtmosphereRooms,
  atmosphere,
  type RoomHandle,
  type RoomMember,
  type ClientTransportName,
} from '@atmosphere/client';

interface ModelInfo {
  runtime: string;
  demo: boolean;
  model?: string;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

type AnswerPolicy = 'questions' | 'mentions';

interface Info {
  model: ModelInfo;
  rooms: string[];
  answers: Record<string, AnswerPolicy>;
}

const HINTS: Record<AnswerPolicy, string> = {
  questions:
    'Assistant answers questions to the room (ending with “?”) and @assistant; @poet writes a poem. Other messages are for people.',
  mentions: 'The AI members answer only when mentioned: @assistant, @poet. Everything else is for people.',
};

async function showModel(): Promise<Info> {
  const banner = $<HTMLParagraphElement>('model-banner');
  const response = await fetch('/api/info');
  const info = (await response.json()) as Info;
  if (info.model.demo) {
    banner.textContent =
      'DEMO model: the AI members give canned answers (the poet rhymes your words), streamed like a real model. Start the server with LLM_API_KEY set to use a real one.';
    banner.classList.add('demo');
  } else {
    banner.textContent = `AI members answer with ${info.model.runtime}${info.model.model ? ` (${info.model.model})` : ''}.`;
  }
  return info;
}

/** The name to join as: the one wanted, or the free variant the server offers when someone in the room has it. */
async function freeName(room: string, wanted: string): Promise<string> {
  const response = await fetch(`/api/rooms/${room}/name?wanted=${encodeURIComponent(wanted)}`);
  if (!response.ok) return wanted;
  return ((await response.json()) as { name: string }).name;
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function textOf(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data && typeof data === 'object' && typeof (data as { text?: unknown }).text === 'string')
    return (data as { text: string }).text;
  return JSON.stringify(data);
}

async function start(
  wanted: string,
  room: string,
  transport: ClientTransportName,
  policy: AnswerPolicy,
): Promise<void> {
  const name = await freeName(room, wanted);
  $('join').hidden = true;
  $('chat').hidden = false;
  $('room-title').textContent = `#${room}`;
  $('me').textContent = name;
  const notice = $<HTMLParagraphElement>('notice');
  if (name !== wanted) {
    notice.textContent = `“${wanted}” is already in #${room}: you are “${name}”.`;
    notice.hidden = false;
  }
  const answersSelect = $<HTMLSelectElement>('answers');
  const hint = $<HTMLParagraphElement>('hint');
  const showPolicy = (value: AnswerPolicy): void => {
    answersSelect.value = value;
    hint.textContent = HINTS[value];
  };
  showPolicy(policy);
  answersSelect.addEventListener('change', () => {
    void fetch(`/api/rooms/${room}/answers`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ answers: answersSelect.value }),
    });
  });
  const messages = $<HTMLOListElement>('messages');
  const membersList = $<HTMLUListElement>('members');
  const status = $<HTMLParagraphElement>('status');
  const typingLine = $<HTMLParagraphElement>('typing');
  const members = new Map<string, RoomMember>();
  const typing = new Set<string>();
  /** One bubble per AI answer (sessionId), filled token by token, closed by the final message. */
  const streams = new Map<string, { item: HTMLElement; text: HTMLElement }>();

  const scroll = (): void => {
    messages.scrollTop = messages.scrollHeight;
  };
  const isAi = (id: string): boolean => members.get(id)?.metadata?.['ai'] === true;
  const displayName = (id: string): string => {
    const metadata = members.get(id)?.metadata;
    return typeof metadata?.['name'] === 'string' ? metadata['name'] : id;
  };
  const renderMembers = (): void => {
    membersList.replaceChildren(
      ...[...members.values()].map((member) => {
        const item = element('li', isAi(member.id) ? 'ai' : '', displayName(member.id));
        item.dataset['member'] = member.id;
        return item;
      }),
    );
  };
  const renderTyping = (): void => {
    const names = [...typing].map(displayName);
    typingLine.textContent =
      names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  };
  const addLine = (from: string, text: string, className = ''): HTMLElement => {
    const item = element('li', `${className}${isAi(from) ? ' ai' : ''}`);
    item.append(element('span', 'from', displayName(from)), element('span', 'text', text));
    item.dataset['from'] = from;
    messages.append(item);
    scroll();
    return item;
  };
  const system = (text: string): HTMLElement => {
    const item = element('li', 'system', text);
    messages.append(item);
    scroll();
    return item;
  };
  if (name !== wanted) system(notice.textContent ?? '');

  const subscription = atmosphere.subscribe({ url: '/rooms', transport });
  subscription.on('open', () => {
    status.textContent = `connected (${subscription.transport})`;
    status.className = 'status open';
  });
  subscription.on('reconnect', () => {
    status.textContent = 'reconnecting…';
    status.className = 'status';
  });
  subscription.on('close', () => {
    status.textContent = 'disconnected';
    status.className = 'status';
  });

  const rooms = AtmosphereRooms.for(subscription);
  let handle: RoomHandle<{ text: string }> | undefined;
  handle = rooms.join<{ text: string }>(
    room,
    // `?watch=1` joins as a watcher: the server gives it the viewer role (it follows AI answers, cannot stop them).
    { id: name, metadata: params.get('watch') === '1' ? { name, watching: true } : { name } },
    {
      joined(list) {
        members.clear();
        for (const member of list) members.set(member.id, member);
        renderMembers();
      },
      presence(event) {
        if (event.action === 'join') members.set(event.member.id, event.member);
        else {
          members.delete(event.member.id);
          typing.delete(event.member.id);
          renderTyping();
        }
        renderMembers();
        system(`${displayName(event.member.id)} ${event.action === 'join' ? 'joined' : 'left'}`);
      },
      typing(memberId, on) {
        if (on) typing.add(memberId);
        else typing.delete(memberId);
        renderTyping();
      },
      message(message) {
        if (!message.from) {
          // From the server: a change of the room's settings, for everyone in it.
          const data = message.data as { notice?: unknown; answers?: unknown; text?: unknown } | undefined;
          if (data?.notice === 'answers' && (data.answers === 'questions' || data.answers === 'mentions'))
            showPolicy(data.answers);
          system(textOf(message.data)).dataset['notice'] =
            typeof data?.notice === 'string' ? data.notice : '';
          return;
        }
        typing.delete(message.from);
        renderTyping();
        const sessionId = (message.data as { sessionId?: unknown } | undefined)?.sessionId;
        const stream = typeof sessionId === 'string' ? streams.get(sessionId) : undefined;
        if (stream) {
          // The final message of a streamed answer replaces its bubble's text (same words, now in history).
          stream.item.classList.remove('streaming');
          stream.text.textContent = textOf(message.data);
          if (message.id !== undefined) stream.item.dataset['id'] = String(message.id);
          return;
        }
        const item = addLine(message.from, textOf(message.data));
        if (message.id !== undefined) item.dataset['id'] = String(message.id);
        if (typeof sessionId === 'string') item.dataset['session'] = sessionId;
      },
      // AI answers stream to the whole room, token by token, each frame once (even after a reconnect).
      ai(from, frame) {
        let stream = streams.get(frame.sessionId);
        if (!stream) {
          if (frame.type === 'complete') return;
          const item = addLine(from, '', 'streaming');
          item.dataset['session'] = frame.sessionId;
          stream = { item, text: item.querySelector<HTMLElement>('.text')! };
          streams.set(frame.sessionId, stream);
          // A Stop button, unless this connection's role may not stop this member's answers.
          if (handle && handle.roles.get(from) !== 'viewer') {
            const stop = element('button', 'stop', 'Stop');
            stop.dataset['testid'] = 'stop';
            const sessionId = frame.sessionId;
            stop.addEventListener('click', () => handle?.stop(from, sessionId));
            item.append(stop);
          }
        }
        if (frame.type === 'streaming-text' && typeof frame.data === 'string') {
          stream.text.textContent += frame.data;
          scroll();
        } else if (frame.type === 'error') {
          stream.item.classList.remove('streaming');
          stream.item.classList.add('error');
          stream.text.textContent += ` [${textOf(frame.data)}]`;
        } else if (frame.type === 'complete') {
          stream.item.classList.remove('streaming');
          if (frame.reason === 'stopped') stream.item.classList.add('stopped');
        }
        if (frame.type === 'complete' || frame.type === 'error') stream.item.querySelector('.stop')?.remove();
      },
      error(error) {
        // The server refuses a join under a name someone took in the meantime.
        system(
          members.size === 0 && /unauthorized/i.test(error.message)
            ? `Could not join #${room} as “${name}”: someone took the name just now. Reload to pick another.`
            : error.message,
        );
      },
    },
    // Late joiners see the conversation so far. Paint timing: for a sample of the AI answers' text frames,
    // when this page received and painted them (the `ai` handler above updates the page at once, so the next
    // animation frame paints the new words), for the dashboard's token-to-screen figures.
    { history: true, paintTiming: true },
  );

  const input = $<HTMLInputElement>('text');
  let typingSent = false;
  let typingTimer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener('input', () => {
    if (!typingSent) {
      handle?.typing(true);
      typingSent = true;
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      handle?.typing(false);
      typingSent = false;
    }, 1500);
  });
  $<HTMLFormElement>('compose').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !handle) return;
    handle.broadcast({ text });
    // Our own messages are not echoed back: show them at once.
    addLine(name, text, 'mine');
    input.value = '';
    clearTimeout(typingTimer);
    if (typingSent) handle.typing(false);
    typingSent = false;
  });
  window.addEventListener('pagehide', () => {
    handle?.leave();
    handle = undefined;
  });
}

async function main(): Promise<void> {
  const info = await showModel();
  const roomNames = info.rooms;
  const roomSelect = $<HTMLSelectElement>('room');
  for (const name of roomNames) roomSelect.append(new Option(`#${name}`, name));
  const transportSelect = $<HTMLSelectElement>('transport');
  const nameInput = $<HTMLInputElement>('name');
  const requested = {
    name: params.get('name'),
    room: params.get('room'),
    transport: params.get('transport'),
  };
  if (requested.room && roomNames.includes(requested.room)) roomSelect.value = requested.room;
  if (requested.transport) transportSelect.value = requested.transport;
  const policy = (): AnswerPolicy => info.answers[roomSelect.value] ?? 'mentions';
  if (requested.name) {
    await start(requested.name, roomSelect.value, transportSelect.value as ClientTransportName, policy());
    return;
  }
  nameInput.value = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
  $<HTMLFormElement>('join').addEventListener('submit', (event) => {
    event.preventDefault();
    void start(
      nameInput.value.trim(),
      roomSelect.value,
      transportSelect.value as ClientTransportName,
      policy(),
    );
  });
}

void main();
