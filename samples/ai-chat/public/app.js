// @ts-check
/* global document, location */
import { connectAiChat } from './ai-client.js';

/**
 * The chat page: renders AI frames as they stream — text, progress, tool cards, approval buttons. Everything the
 * model says is inserted as text, never as HTML.
 *
 * @typedef {import('./ai-client.js').AiFrame} AiFrame
 * @typedef {{ root: HTMLElement, text: HTMLElement, status: HTMLElement, tools: HTMLElement, cards: Map<string, HTMLElement> }} Bubble
 */

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const messages = byId('messages');
const form = /** @type {HTMLFormElement} */ (byId('form'));
const input = /** @type {HTMLInputElement} */ (byId('input'));
const connection = byId('connection');
const runtimeLabel = byId('runtime');
const turn = byId('turn');
const stopButton = byId('stop');
const watchLink = /** @type {HTMLAnchorElement} */ (byId('watch'));
const notice = byId('notice');
// `?run=<id>` (a watch link): this tab follows someone's answer; the server makes it a viewer.
const followed = new URLSearchParams(location.search).get('run') ?? undefined;

/** The run being answered, and this tab's role in it. */
const current = { runId: /** @type {string | undefined} */ (undefined), role: followed ? 'viewer' : 'owner' };

/** Shows the stop button and the watch link only while a run is answered, the button only to who may stop. */
function showTurn() {
  const running = current.runId !== undefined;
  turn.hidden = !running;
  stopButton.hidden = current.role === 'viewer';
  watchLink.hidden = current.role === 'viewer';
  document.body.dataset['role'] = current.role;
  if (running) watchLink.href = `/?run=${encodeURIComponent(/** @type {string} */ (current.runId))}`;
}

/**
 * @param {string} tag
 * @param {string} className
 * @param {string} [text]
 */
function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** @type {Map<string, Bubble>} */
const bubbles = new Map();

/** @param {string} sessionId */
function bubbleFor(sessionId) {
  let bubble = bubbles.get(sessionId);
  if (bubble) return bubble;
  const root = element('div', 'message assistant');
  root.dataset['session'] = sessionId;
  root.dataset['state'] = 'streaming';
  const tools = element('div', 'tools');
  const text = element('div', 'text');
  const status = element('div', 'status');
  root.append(tools, text, status);
  messages.append(root);
  bubble = { root, text, status, tools, cards: new Map() };
  bubbles.set(sessionId, bubble);
  return bubble;
}

/**
 * A tool card, found by tool-call id.
 * @param {Bubble} bubble
 * @param {string} id
 * @param {string} toolName
 */
function cardFor(bubble, id, toolName) {
  let card = bubble.cards.get(id);
  if (card) return card;
  card = element('div', 'tool-card');
  card.dataset['tool'] = toolName;
  card.append(
    element('div', 'tool-name', `🔧 ${toolName}`),
    element('pre', 'tool-detail'),
    element('div', 'tool-actions'),
  );
  bubble.tools.append(card);
  bubble.cards.set(id, card);
  return card;
}

/**
 * @param {HTMLElement} card
 * @param {string} state
 * @param {unknown} detail
 */
function setCard(card, state, detail) {
  card.dataset['toolState'] = state;
  const pre = /** @type {HTMLElement} */ (card.querySelector('.tool-detail'));
  pre.textContent = typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2);
}

/** A value as display text: strings as they are, anything else as JSON. @param {unknown} value */
const text = (value) =>
  typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);

const scroll = () => messages.scrollTo({ top: messages.scrollHeight });

/** @param {AiFrame} frame */
function render(frame) {
  // A one-frame error session is the refusal of something this tab sent (a viewer's stop: FORBIDDEN).
  if (frame.type === 'error' && frame.seq === 1 && !bubbles.has(frame.sessionId)) {
    notice.textContent = `${frame.code ?? 'ERROR'}: ${String(frame.data)}`;
    notice.dataset['code'] = frame.code ?? '';
    return;
  }
  if (frame.type === 'metadata' && frame.key === 'X-Atmosphere-Run-Id') {
    current.runId = String(frame.value);
    notice.textContent = '';
    showTurn();
  }
  if (frame.type === 'complete' || frame.type === 'error') {
    current.runId = undefined;
    showTurn();
  }
  const bubble = bubbleFor(frame.sessionId);
  if (frame.type === 'streaming-text') bubble.text.textContent += String(frame.data);
  else if (frame.type === 'progress') bubble.status.textContent = String(frame.data);
  else if (frame.type === 'metadata' && frame.key === 'ai.model')
    bubble.root.dataset['model'] = String(frame.value);
  else if (frame.type === 'complete' && frame.reason === 'stopped') {
    const used = frame.usage?.['total'];
    bubble.status.textContent = used === undefined ? 'Stopped.' : `Stopped (${used} tokens so far).`;
    bubble.root.dataset['state'] = 'stopped';
  } else if (frame.type === 'complete') {
    bubble.status.textContent = '';
    bubble.root.dataset['state'] = 'complete';
  } else if (frame.type === 'error') {
    bubble.status.textContent = `Error: ${String(frame.data)}`;
    bubble.root.dataset['state'] = 'error';
  } else if (frame.event)
    renderEvent(bubble, frame.event, /** @type {Record<string, unknown>} */ (frame.data ?? {}));
  scroll();
}

/**
 * @param {Bubble} bubble
 * @param {string} event
 * @param {Record<string, unknown>} data
 */
function renderEvent(bubble, event, data) {
  const id = text(data['toolCallId'] ?? data['approvalId'] ?? data['toolName'] ?? event);
  const name = text(data['toolName']);
  if (event === 'approval-required') {
    const card = cardFor(bubble, id, name);
    setCard(card, 'approval', `${text(data['message'])}\n${JSON.stringify(data['arguments'], null, 2)}`);
    const actions = /** @type {HTMLElement} */ (card.querySelector('.tool-actions'));
    const approve = element('button', 'approve', 'Approve');
    const deny = element('button', 'deny', 'Deny');
    approve.dataset['action'] = 'approve';
    deny.dataset['action'] = 'deny';
    const answer = (/** @type {boolean} */ yes) => {
      approve.setAttribute('disabled', '');
      deny.setAttribute('disabled', '');
      if (yes) client.approve(text(data['approvalId']));
      else client.deny(text(data['approvalId']));
    };
    approve.addEventListener('click', () => answer(true));
    deny.addEventListener('click', () => answer(false));
    actions.replaceChildren(approve, deny);
  } else if (event === 'tool-start') {
    const card = cardFor(bubble, id, name);
    /** @type {HTMLElement} */ (card.querySelector('.tool-actions')).replaceChildren();
    setCard(card, 'running', data['arguments']);
  } else if (event === 'tool-result') setCard(cardFor(bubble, id, name), 'done', data['result']);
  else if (event === 'tool-error') {
    const card = cardFor(bubble, id, name);
    /** @type {HTMLElement} */ (card.querySelector('.tool-actions')).replaceChildren();
    setCard(card, 'error', text(data['error']));
  } else if (event === 'progress') bubble.status.textContent = text(data['message']);
}

const client = connectAiChat(
  '/ai/chat',
  {
    onFrame: render,
    onRole: (role) => {
      current.role = role;
      showTurn();
    },
    onStatus: (status) => {
      connection.textContent = status;
      connection.dataset['status'] = status;
    },
  },
  followed ? { runId: followed } : {},
);

// The server decides: a viewer's stop is refused (the button is hidden from viewers, not disabled in code).
stopButton.addEventListener('click', () => {
  if (current.runId !== undefined) client.stop(current.runId);
});

/** @param {string} text */
function ask(text) {
  const prompt = text.trim();
  if (prompt === '') return;
  messages.append(element('div', 'message user', prompt));
  scroll();
  client.prompt(prompt);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  ask(input.value);
  input.value = '';
});
for (const button of document.querySelectorAll('[data-prompt]')) {
  button.addEventListener('click', () => ask(/** @type {HTMLElement} */ (button).dataset['prompt'] ?? ''));
}

fetch('/api/info')
  .then((response) => response.json())
  .then((/** @type {{ runtime?: string, model?: string }} */ info) => {
    runtimeLabel.textContent =
      info.runtime === 'demo'
        ? 'demo model — set LLM_API_KEY for a real one'
        : `${info.runtime ?? '?'} · ${info.model ?? ''}`;
    runtimeLabel.dataset['runtime'] = info.runtime ?? '';
  })
  .catch(() => (runtimeLabel.textContent = 'unknown runtime'));
