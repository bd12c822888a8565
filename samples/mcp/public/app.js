// @ts-check
/* global document */
import { subscribe } from './atmosphere-client.js';

/**
 * The dashboard: announcements and streamed answers from the feed topic, and the "ops" room (members,
 * messages) — everything driven by MCP tools. AI frames are shown once each, by (sessionId, seq).
 * @typedef {{ type: string, sessionId?: string, seq?: number, data?: unknown, key?: string, value?: unknown, room?: string, from?: string, memberId?: string, action?: string, members?: { id: string }[], id?: number, text?: string, level?: string }} Frame
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @type {Map<string, { seq: number, body: HTMLElement, card: HTMLElement }>} */
const answers = new Map();
/** @type {string[]} */
let members = [];

/** @param {string} tag @param {string} className @param {string} text */
function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/** @param {Frame} frame */
function onAiFrame(frame) {
  const id = /** @type {string} */ (frame.sessionId);
  let answer = answers.get(id);
  if (!answer) {
    const card = element('article', 'answer streaming', '');
    card.dataset['session'] = id;
    card.append(element('h3', 'title', 'Answer'), element('p', 'body', ''), element('small', 'progress', ''));
    $('answers').prepend(card);
    answer = { seq: 0, body: /** @type {HTMLElement} */ (card.querySelector('.body')), card };
    answers.set(id, answer);
  }
  if ((frame.seq ?? 0) <= answer.seq) return; // already shown
  answer.seq = frame.seq ?? answer.seq;
  const card = answer.card;
  switch (frame.type) {
    case 'streaming-text':
      answer.body.textContent += String(frame.data);
      break;
    case 'metadata':
      if (frame.key === 'title')
        /** @type {HTMLElement} */ (card.querySelector('.title')).textContent = String(frame.value);
      break;
    case 'progress':
      /** @type {HTMLElement} */ (card.querySelector('.progress')).textContent = String(frame.data);
      break;
    case 'complete':
      card.classList.remove('streaming');
      card.classList.add('complete');
      break;
    case 'error':
      card.classList.remove('streaming');
      card.classList.add('failed');
      break;
  }
}

subscribe('/dashboard/feed', {
  onStatus: (status) => ($('feed-status').textContent = status),
  onMessage(message) {
    /** @type {unknown} */
    const parsed = JSON.parse(message);
    const frame = /** @type {Frame} */ (parsed);
    if (frame.type === 'announcement') {
      $('announcements').prepend(element('li', `announcement ${frame.level ?? 'info'}`, String(frame.text)));
    } else if (typeof frame.sessionId === 'string') onAiFrame(frame);
  },
});

function renderMembers() {
  $('members').replaceChildren(...members.map((id) => element('li', 'member', id)));
}

subscribe('/rooms', {
  onStatus: (status) => ($('room-status').textContent = status),
  onOpen: (send) =>
    send(
      JSON.stringify({
        type: 'join',
        room: 'ops',
        memberId: `viewer-${Math.random().toString(36).slice(2, 8)}`,
        metadata: { name: 'viewer' },
      }),
    ),
  onMessage(message) {
    /** @type {unknown} */
    const parsed = JSON.parse(message);
    const frame = /** @type {Frame & { data?: { text?: string } }} */ (parsed);
    if (frame.type === 'join_ack') {
      members = (frame.members ?? []).map((m) => m.id);
      renderMembers();
      document.title = 'Atmosphere MCP dashboard';
    } else if (frame.type === 'presence' && frame.memberId) {
      members =
        frame.action === 'join'
          ? [...members, frame.memberId]
          : members.filter((id) => id !== frame.memberId);
      renderMembers();
      $('messages').append(
        element('li', 'presence', `${frame.memberId} ${frame.action === 'join' ? 'joined' : 'left'}`),
      );
    } else if (frame.type === 'message') {
      const text =
        typeof frame.data === 'object' && frame.data !== null ? String(frame.data.text) : String(frame.data);
      $('messages').append(element('li', 'message', `${frame.from ?? 'server'}: ${text}`));
    }
  },
});
