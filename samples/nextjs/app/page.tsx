import { Chat } from './chat.tsx';

export default function Page() {
  return (
    <main style={{ maxWidth: 720, margin: '0 auto', padding: '24px 16px' }}>
      <h1 style={{ fontSize: 24, margin: '0 0 4px' }}>Atmosphere × Next.js</h1>
      <p style={{ margin: '0 0 16px', color: '#5a6272' }}>
        An AI answer streamed token by token with <code>useStreaming</code> from{' '}
        <code>@atmosphere/client/react</code> — over WebSocket from the custom server, or over SSE
        (long-polling as fallback) from an App Router route handler.
      </p>
      <Chat />
    </main>
  );
}
