import { type ChatEntry, ChatModel } from '@atmosphere/client';

/**
 * A one-to-one chat with the assistant over `/ai/assistant` (an `aiEndpoint`), with paint timing on: for a
 * sample of each answer's text frames the page reports when it received and painted them, and the server
 * turns the reports into the token-to-screen histograms the dashboard shows.
 */
const chat = new ChatModel({ request: { url: '/ai/assistant' }, paintTiming: true });

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const list = $<HTMLOListElement>('messages');
const status = $<HTMLParagraphElement>('status');
const items = new Map<string, HTMLLIElement>();

/** Updates the page at once on every change, so the frame after it is the one that paints the new words. */
function render(): void {
  const snapshot = chat.getSnapshot();
  for (const message of snapshot.messages) show(message);
  status.textContent = snapshot.error
    ? `Error: ${snapshot.error}`
    : snapshot.isLoading
      ? 'The assistant is answering…'
      : snapshot.connectionState === 'connected'
        ? 'Ready.'
        : 'Connecting…';
}

function show(message: ChatEntry): void {
  let item = items.get(message.id);
  if (item === undefined) {
    item = document.createElement('li');
    item.dataset['role'] = message.role;
    items.set(message.id, item);
    list.append(item);
  }
  if (item.textContent !== message.content) item.textContent = message.content;
  item.dataset['status'] = message.status ?? '';
}

chat.subscribe(render);
chat.connect();
render();

$<HTMLFormElement>('ask').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('prompt');
  const prompt = input.value.trim();
  if (!prompt) return;
  input.value = '';
  chat.append(prompt);
});
