import { useChat } from '@ai-sdk/react';
import { lastAssistantMessageIsCompleteWithApprovalResponses } from 'ai';
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { chatId, makeTransport, savedMessages, saveMessages, snapshot } from './setup.ts';

const transport = makeTransport();
const initial = savedMessages();

function App() {
  // Stock useChat: only the transport is Atmosphere's (or the SDK's own DefaultChatTransport).
  const { messages, sendMessage, status, stop, error, addToolApprovalResponse, resumeStream } = useChat({
    id: chatId,
    messages: initial,
    transport,
    resume: true,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  });
  const [input, setInput] = useState('');
  useEffect(() => {
    saveMessages(messages, status);
    (window as unknown as { chat: unknown }).chat = snapshot(messages, status, error);
  }, [messages, status, error]);
  useEffect(() => {
    document.title = 'chat ready';
  }, []);
  return (
    <main>
      <p id="status">{status}</p>
      {messages.map((message) => (
        <div key={message.id} data-role={message.role}>
          {message.parts.map((part, index) => {
            if (part.type === 'text') return <span key={index}>{part.text}</span>;
            if (part.type === 'tool-weather' && part.state === 'approval-requested')
              return (
                <span key={index} className="approval">
                  <button
                    id="approve"
                    onClick={() => void addToolApprovalResponse({ id: part.approval.id, approved: true })}
                  >
                    Approve
                  </button>
                  <button
                    id="deny"
                    onClick={() => void addToolApprovalResponse({ id: part.approval.id, approved: false })}
                  >
                    Deny
                  </button>
                </span>
              );
            return null;
          })}
        </div>
      ))}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void sendMessage({ text: input });
          setInput('');
        }}
      >
        <input id="prompt" value={input} onChange={(event) => setInput(event.target.value)} />
        <button id="send" type="submit">
          Send
        </button>
      </form>
      <button id="stop" onClick={() => void stop()}>
        Stop
      </button>
      <button id="resume" onClick={() => void resumeStream()}>
        Resume
      </button>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
