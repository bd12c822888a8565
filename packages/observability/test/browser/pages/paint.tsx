import { AtmosphereProvider, useStreaming } from '@atmosphere/client/react';
import { useEffect } from 'react';
import { createRoot } from 'react-dom/client';

/** Every text frame timed, the samples sent within 100 ms: the test waits for the server to count them. */
function App() {
  const ai = useStreaming({
    request: { url: '/ai/paint', transport: 'websocket' },
    paintTiming: { sampleRate: 1, flushMs: 100 },
  });
  useEffect(() => {
    if (ai.connectionState === 'connected') document.title = 'ready';
  }, [ai.connectionState]);
  return (
    <main>
      <button data-testid="send" onClick={() => ai.send('Tell me a story')}>
        Send
      </button>
      <p data-testid="answer">{ai.fullText}</p>
      <p data-testid="status">{ai.stats?.status ?? (ai.isStreaming ? 'streaming' : 'idle')}</p>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <AtmosphereProvider>
    <App />
  </AtmosphereProvider>,
);
