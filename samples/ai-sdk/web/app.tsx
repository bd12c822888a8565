import { useChat } from '@ai-sdk/react';
import { AtmosphereChatTransport } from '@atmosphere/adapter-vercel-ai/chat';
import { DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses } from 'ai';
import { useState } from 'react';
import { createRoot } from 'react-dom/client';

// The five lines: useChat as it is, with Atmosphere's transport (WebSocket, SSE / long-polling fallback,
// reconnection and exact resume). `?transport=default` keeps the SDK's own HTTP transport against the same
// Atmosphere endpoint instead.
const transport =
  new URLSearchParams(location.search).get('transport') === 'default'
    ? new DefaultChatTransport({ api: '/api/chat' })
    : new AtmosphereChatTransport({ url: '/ai/chat' });

function App() {
  const { messages, sendMessage, status, stop, addToolApprovalResponse } = useChat({
    id: 'sample-chat',
    transport,
    resume: true,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  });
  const [input, setInput] = useState('');
  return (
    <main>
      <h1>useChat over Atmosphere</h1>
      <p id="status">{status}</p>
      {messages.map((message) => (
        <div key={message.id} className={`message ${message.role}`} data-role={message.role}>
          {message.parts.map((part, index) => {
            if (part.type === 'text') return <span key={index}>{part.text}</span>;
            if (part.type === 'tool-weather')
              return (
                <div key={index} className="tool">
                  weather {JSON.stringify(part.input)} — {part.state}
                  {part.state === 'approval-requested' && (
                    <>
                      {' '}
                      <button
                        id="approve"
                        onClick={() => void addToolApprovalResponse({ id: part.approval.id, approved: true })}
                      >
                        Approve
                      </button>
                      <button
                        id="deny"
                        onClick={() =>
                          void addToolApprovalResponse({ id: part.approval.id, approved: false })
                        }
                      >
                        Deny
                      </button>
                    </>
                  )}
                  {part.state === 'output-available' && <> → {JSON.stringify(part.output)}</>}
                </div>
              );
            return null;
          })}
        </div>
      ))}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (input.trim() === '') return;
          void sendMessage({ text: input });
          setInput('');
        }}
      >
        <input
          id="prompt"
          value={input}
          placeholder="Ask anything, or: weather in Montreal?"
          onChange={(e) => setInput(e.target.value)}
        />
        <button id="send" type="submit" disabled={status !== 'ready'}>
          Send
        </button>
        <button id="stop" type="button" onClick={() => void stop()} disabled={status !== 'streaming'}>
          Stop
        </button>
      </form>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
