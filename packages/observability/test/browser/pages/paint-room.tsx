import { AtmosphereProvider, useRoom } from '@atmosphere/client/react';
import { useEffect } from 'react';
import { createRoot } from 'react-dom/client';

/**
 * A room with an AI member, every text frame of its answers timed and the samples sent within 100 ms: the test
 * waits for the server to count them.
 */
function App() {
  const room = useRoom({
    request: { url: '/rooms', transport: 'websocket' },
    room: 'lobby',
    member: { id: 'alice' },
    paintTiming: { sampleRate: 1, flushMs: 100 },
  });
  useEffect(() => {
    if (room.joined) document.title = 'ready';
  }, [room.joined]);
  const reply = room.messages.find((message) => message.from === 'assistant');
  return (
    <main>
      <button data-testid="send" onClick={() => room.broadcast('@assistant tell me a story')}>
        Send
      </button>
      <p data-testid="stream">{room.streams.map((stream) => stream.text).join('')}</p>
      <p data-testid="answer">{(reply?.data as { text?: string } | undefined)?.text ?? ''}</p>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <AtmosphereProvider>
    <App />
  </AtmosphereProvider>,
);
