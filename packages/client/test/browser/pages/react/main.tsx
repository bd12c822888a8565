import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Atmosphere } from '../../../../src/index.ts';
import { AtmosphereProvider, useAtmosphere, usePresence, useStreaming } from '../../../../src/react/index.ts';
import { pageOptions } from '../page-options.ts';

const { member, transport } = pageOptions();

function Live() {
  const { state, messages, push } = useAtmosphere({ request: { url: '/chat', transport } });
  const [text, setText] = useState('');
  return (
    <section>
      <p id="chat-state">{state}</p>
      <input id="chat-input" value={text} onChange={(event) => setText(event.target.value)} />
      <button id="chat-send" onClick={() => push(text)}>
        send
      </button>
      <ul id="messages">
        {messages.map((message, index) => (
          <li key={index}>{message}</li>
        ))}
      </ul>
    </section>
  );
}

function Ai() {
  const { fullText, isStreaming, stats, metadata, send, connectionState } = useStreaming({
    request: { url: '/ai', transport },
  });
  return (
    <section>
      <button id="ask" disabled={connectionState !== 'connected'} onClick={() => send('hello from react')}>
        ask
      </button>
      <p id="ai-text">{fullText}</p>
      <p id="ai-status">{isStreaming ? 'streaming' : stats ? stats.status : 'idle'}</p>
      <p id="ai-model">{typeof metadata['ai.model'] === 'string' ? metadata['ai.model'] : ''}</p>
    </section>
  );
}

function Presence() {
  const { joined, members, count } = usePresence({
    request: { url: '/rooms', transport },
    room: 'lobby',
    member: { id: member },
  });
  return <p id="presence">{joined ? `${count}: ${members.map((m) => m.id).join(',')}` : 'joining'}</p>;
}

const client = new Atmosphere();
createRoot(document.getElementById('app')!).render(
  <StrictMode>
    <AtmosphereProvider instance={client}>
      <Live />
      <Ai />
      <Presence />
    </AtmosphereProvider>
  </StrictMode>,
);
