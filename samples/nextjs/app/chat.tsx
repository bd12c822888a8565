'use client';

import { useStreaming } from '@atmosphere/client/react';
import { type FormEvent, type ReactNode, useEffect, useState } from 'react';

/** The two ways this sample serves Atmosphere (see src/server.ts and app/api/ai/route.ts). */
const WAYS = {
  websocket: {
    label: 'WebSocket · custom server',
    request: { url: '/atmosphere/ai', transport: 'websocket' },
  },
  route: {
    label: 'SSE · route handler',
    request: { url: '/api/ai', transport: 'sse', fallbackTransport: 'long-polling' },
  },
} as const;

type Way = keyof typeof WAYS;

export function Chat(): ReactNode {
  const [way, setWay] = useState<Way>('websocket');
  // The connection is the browser's: nothing connects while the page renders on the server.
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);
  return (
    <section>
      <div role="tablist" style={{ display: 'flex', gap: 8, flexWrap: 'wrap', marginBottom: 12 }}>
        {(Object.keys(WAYS) as Way[]).map((key) => (
          <button
            key={key}
            role="tab"
            aria-selected={way === key}
            data-way={key}
            onClick={() => setWay(key)}
            style={{
              padding: '6px 12px',
              borderRadius: 6,
              border: '1px solid #c5cad3',
              background: way === key ? '#2f6fed' : '#fff',
              color: way === key ? '#fff' : '#1d2330',
              cursor: 'pointer',
            }}
          >
            {WAYS[key].label}
          </button>
        ))}
      </div>
      {mounted ? <Stream key={way} way={way} /> : <p>Loading…</p>}
    </section>
  );
}

function Stream({ way }: { way: Way }): ReactNode {
  const stream = useStreaming({ request: { ...WAYS[way].request } });
  const [prompt, setPrompt] = useState('What is Atmosphere?');
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (prompt.trim() !== '') stream.send(prompt.trim());
  };
  return (
    <div style={{ background: '#fff', border: '1px solid #dde1e7', borderRadius: 8, padding: 16 }}>
      <p style={{ margin: '0 0 12px', fontSize: 13, color: '#5a6272' }}>
        <span
          style={{ background: '#fff4d6', border: '1px solid #e8c66a', borderRadius: 4, padding: '1px 6px' }}
        >
          Demo model
        </span>{' '}
        no API key, no network: canned text, streamed. Connection:{' '}
        <strong data-testid="state">{stream.connectionState}</strong>
      </p>
      <form onSubmit={submit} style={{ display: 'flex', gap: 8 }}>
        <input
          aria-label="Prompt"
          value={prompt}
          onChange={(event) => setPrompt(event.target.value)}
          style={{ flex: 1, minWidth: 0, padding: 8, borderRadius: 6, border: '1px solid #c5cad3' }}
        />
        <button
          type="submit"
          disabled={stream.connectionState !== 'connected' || stream.isStreaming}
          style={{ padding: '8px 14px', borderRadius: 6, border: 0, background: '#2f6fed', color: '#fff' }}
        >
          Send
        </button>
      </form>
      {stream.progress && stream.isStreaming ? (
        <p data-testid="progress" style={{ color: '#5a6272', fontStyle: 'italic' }}>
          {stream.progress}
        </p>
      ) : null}
      <p
        data-testid="answer"
        data-done={!stream.isStreaming && stream.tokenCount > 0}
        style={{ whiteSpace: 'pre-wrap', lineHeight: 1.5 }}
      >
        {stream.fullText}
      </p>
      {stream.error ? <p role="alert">{stream.error}</p> : null}
    </div>
  );
}
