import { type FormEvent, useState } from 'react';
import { useAtmosphere, useChat, usePresence, useRoom } from '@atmosphere/client/react';
import { conversation, lastOf, type SentMessage } from '../shared/conversation.ts';
import { json, type LiveError, type LiveMessage, liveLine, type Tick } from '../shared/messages.ts';
import { endpoint, pageOptions, ROOM, roomOptions } from '../shared/options.ts';

const options = pageOptions();

/** The server's tick, pushed every second on `/ticker`. */
function Ticker() {
  const { data } = useAtmosphere<Tick>({ request: endpoint('/ticker', options), decode: json });
  return <p data-testid="tick">{data ? `tick ${data.n}` : 'waiting for the first tick'}</p>;
}

/** Live messages on `/live`: what any page posts, every page receives. */
function Live() {
  const { state, messages, push } = useAtmosphere<LiveMessage | LiveError>({
    request: endpoint('/live', options),
    decode: json,
  });
  const [text, setText] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    push({ from: options.member, text: text.trim() });
    setText('');
  };
  return (
    <section>
      <h2>
        Live messages <small data-testid="live-state">{state}</small>
      </h2>
      <Ticker />
      <ul data-testid="live-messages">
        {messages.map((message, index) => (
          <li key={index}>{liveLine(message)}</li>
        ))}
      </ul>
      <form data-testid="live-form" onSubmit={submit}>
        <input data-testid="live-input" value={text} onChange={(event) => setText(event.target.value)} />
        <button>Post</button>
      </form>
    </section>
  );
}

/** One-to-one AI chat on `/ai`: the answer streams in token by token. */
function Assistant() {
  const { messages, input, setInput, handleSubmit, isLoading, metadata } = useChat({
    request: endpoint('/ai', options),
  });
  const answer = messages.findLast((message) => message.role === 'assistant');
  return (
    <section>
      <h2>Ask the AI</h2>
      <p data-testid="ai-answer">{answer?.content ?? ''}</p>
      <p>
        <span data-testid="ai-status">{answer?.status ?? 'idle'}</span>
        {' · model '}
        <span data-testid="ai-model">
          {typeof metadata['ai.model'] === 'string' ? metadata['ai.model'] : ''}
        </span>
      </p>
      <form data-testid="ai-form" onSubmit={handleSubmit}>
        <input data-testid="ai-input" value={input} onChange={(event) => setInput(event.target.value)} />
        <button disabled={isLoading}>Ask</button>
      </form>
    </section>
  );
}

/** The room: who is here, the conversation (with its history) and the AI member's answers as they stream. */
function Room() {
  const room = useRoom(roomOptions(options));
  const { members, count } = usePresence(roomOptions(options));
  const [sent, setSent] = useState<SentMessage[]>([]);
  const [text, setText] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    room.broadcast({ text: text.trim() });
    setSent([...sent, { key: sent.length, text: text.trim(), after: lastOf(room.messages) }]);
    setText('');
  };
  return (
    <section>
      <h2>
        #{ROOM} <small data-testid="presence">{room.joined ? `${count} here` : 'joining…'}</small>
      </h2>
      <ul data-testid="members">
        {members.map((member) => (
          <li key={member.id} data-member={member.id} data-ai={member.metadata['ai'] === true}>
            {member.id}
          </li>
        ))}
      </ul>
      <ol data-testid="room-messages">
        {conversation(room.messages, sent, options.member).map((line) => (
          <li key={line.key} data-from={line.from}>
            {line.from}: {line.text}
          </li>
        ))}
        {room.streams.map((stream) => (
          <li key={stream.sessionId} data-from={stream.from} className="streaming">
            {stream.from}: {stream.text}
          </li>
        ))}
      </ol>
      <form data-testid="room-form" onSubmit={submit}>
        <input
          data-testid="room-input"
          placeholder="@assistant asks the AI member"
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <button>Send</button>
      </form>
    </section>
  );
}

/** The React page: `@atmosphere/client/react` hooks, each on its own endpoint. */
export function App() {
  return (
    <main>
      <h1>Atmosphere · React</h1>
      <p>
        You are <b data-testid="member">{options.member}</b> ({options.transport}).{' '}
        <a href="/">Other pages</a>
      </p>
      <Live />
      <Assistant />
      <Room />
    </main>
  );
}
