// @vitest-environment happy-dom
import { eventually } from '@atmosphere/runtime/testing';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { createElement, StrictMode } from 'react';
import { afterEach, expect, test } from 'vitest';
import { Atmosphere } from '../../src/index.ts';
import {
  AtmosphereProvider,
  useAtmosphere,
  useChat,
  usePresence,
  useRoom,
  useStreaming,
} from '../../src/react/index.ts';
import { type Fixture, startFixture } from '../fixtures/fixture-server.ts';

let fixture: Fixture | undefined;
afterEach(async () => {
  cleanup();
  await fixture?.close();
  fixture = undefined;
});

const connected = (): number => fixture!.atmosphere.describe().resources.connected;

test('two useAtmosphere hooks on one URL share one connection, under StrictMode too; unmounting closes it', async () => {
  fixture = await startFixture({ origins: '*' });
  const url = fixture.url('/chat');
  function Feed({ name }: { name: string }) {
    const { state, messages, push } = useAtmosphere({ request: { url } });
    return createElement(
      'button',
      { onClick: () => push(`from ${name}`) },
      `${name}:${state}:${messages.join(',')}`,
    );
  }
  const view = render(
    createElement(
      StrictMode,
      null,
      createElement(
        AtmosphereProvider,
        { instance: new Atmosphere() },
        createElement(Feed, { name: 'a' }),
        createElement(Feed, { name: 'b' }),
      ),
    ),
  );
  await screen.findByText('a:connected:');
  await screen.findByText('b:connected:');
  expect(connected()).toBe(1);
  fireEvent.click(screen.getByText('a:connected:'));
  await screen.findByText('b:connected:from a');
  await screen.findByText('a:connected:from a');
  view.unmount();
  await eventually(
    () => fixture!.atmosphere.describe().resources.connected === 0,
    'the shared connection to close',
  );
});

test('useStreaming shows the stream: fullText grows, metadata and stats arrive, isStreaming ends', async () => {
  fixture = await startFixture({ origins: '*' });
  const url = fixture.url('/ai');
  function Ai() {
    const { fullText, isStreaming, metadata, stats, send, connectionState } = useStreaming({
      request: { url },
    });
    return createElement(
      'div',
      null,
      createElement(
        'button',
        { onClick: () => send('hi there'), disabled: connectionState !== 'connected' },
        'ask',
      ),
      createElement(
        'p',
        null,
        `text:${fullText}|streaming:${isStreaming}|model:${String(metadata['ai.model'])}|tokens:${stats?.totalTokens ?? '-'}`,
      ),
    );
  }
  render(createElement(Ai));
  await eventually(() => !screen.getByText<HTMLButtonElement>('ask').disabled, 'the connection');
  fireEvent.click(screen.getByText('ask'));
  await screen.findByText('text:You said: hi there|streaming:false|model:fixture-model|tokens:4');
});

test('useChat: the assistant answer streams into the message list', async () => {
  fixture = await startFixture({ origins: '*' });
  const url = fixture.url('/ai');
  function Chat() {
    const { messages, input, setInput, handleSubmit, isLoading } = useChat({ request: { url } });
    return createElement(
      'form',
      { onSubmit: handleSubmit },
      createElement('input', {
        'aria-label': 'prompt',
        value: input,
        onChange: (e: { target: { value: string } }) => setInput(e.target.value),
      }),
      createElement(
        'ul',
        null,
        ...messages.map((m) => createElement('li', { key: m.id }, `${m.role}:${m.status}:${m.content}`)),
      ),
      createElement('p', null, `loading:${isLoading}`),
    );
  }
  render(createElement(Chat));
  await eventually(() => connected() === 1, 'the connection');
  fireEvent.change(screen.getByLabelText('prompt'), { target: { value: '  question  ' } });
  fireEvent.submit(screen.getByLabelText('prompt').closest('form')!);
  await screen.findByText('assistant:complete:You said: question');
  expect(screen.getByText('user:complete:question')).toBeTruthy();
  expect(screen.getByText('loading:false')).toBeTruthy();
  expect(screen.getByLabelText<HTMLInputElement>('prompt').value).toBe('');
});

test('useChat: stop() stops the answer on the server; the message ends "stopped" with the text so far', async () => {
  fixture = await startFixture({ origins: '*' });
  const url = fixture.url('/ai');
  function Chat() {
    const { messages, append, stop, isLoading } = useChat({ request: { url } });
    return createElement(
      'div',
      null,
      createElement('button', { onClick: () => append('slow:500') }, 'ask'),
      createElement('button', { onClick: () => stop() }, 'stop'),
      createElement(
        'ul',
        null,
        ...messages.map((m) => createElement('li', { key: m.id }, `${m.role}:${m.status}:${m.content}`)),
      ),
      createElement('p', null, `loading:${isLoading}`),
    );
  }
  render(createElement(Chat));
  await eventually(() => connected() === 1, 'the connection');
  fireEvent.click(screen.getByText('ask'));
  await screen.findByText(/^assistant:streaming:t1 t2 t3 /);
  fireEvent.click(screen.getByText('stop'));
  const stopped = await screen.findByText(/^assistant:stopped:/);
  const text = stopped.textContent.slice('assistant:stopped:'.length);
  const count = text.trim().split(' ').length;
  expect(count).toBeGreaterThanOrEqual(3);
  expect(count).toBeLessThan(500);
  expect(text).toBe(Array.from({ length: count }, (_, i) => `t${i + 1} `).join(''));
  expect(screen.getByText('loading:false')).toBeTruthy();
});

test('useRoom and usePresence on the same room share the connection and the membership', async () => {
  fixture = await startFixture({ origins: '*' });
  const url = fixture.url('/rooms');
  const client = new Atmosphere();
  function Room() {
    const { joined, messages, broadcast } = useRoom<{ text: string }>({
      request: { url },
      room: 'lobby',
      member: { id: 'alice' },
    });
    const { count, isOnline } = usePresence({ request: { url }, room: 'lobby', member: { id: 'alice' } });
    return createElement(
      'div',
      null,
      createElement('button', { onClick: () => broadcast({ text: 'hello' }) }, 'say'),
      createElement(
        'p',
        null,
        `joined:${joined}|count:${count}|bob:${isOnline('bob')}|${messages.map((m) => `${m.from}>${m.data.text}`).join(',')}`,
      ),
    );
  }
  render(createElement(AtmosphereProvider, { instance: client }, createElement(Room)));
  await screen.findByText('joined:true|count:1|bob:false|');
  expect(connected()).toBe(1);
  expect([...fixture.rooms.get('lobby')!.members.keys()]).toEqual(['alice']);
  const bob = new Atmosphere().subscribe({ url });
  const { AtmosphereRooms } = await import('../../src/index.ts');
  AtmosphereRooms.for(bob).join('lobby', { id: 'bob' });
  await screen.findByText('joined:true|count:2|bob:true|');
  // fireEvent wraps the click in act(); findByText waits outside it (nesting a waitFor inside act() turns the
  // act environment off while React updates, which React warns about).
  fireEvent.click(screen.getByText('say'));
  await screen.findByText('joined:true|count:2|bob:true|alice>hello');
  await bob.close();
  await screen.findByText('joined:true|count:1|bob:false|alice>hello');
});
