import { connectTestClient, type TestClient, type TestTransport } from '@atmosphere/runtime/testing';
import { AI_MEMBER, type Frameworks, ROOM } from './server.ts';

/** A JSON message of any endpoint, with the fields the checks read. */
interface Frame {
  readonly type?: string;
  readonly code?: string;
  readonly n?: number;
  readonly from?: string;
  readonly text?: string;
  readonly room?: string;
  readonly id?: number;
  readonly data?: unknown;
  readonly key?: string;
  readonly sessionId?: string;
  readonly seq?: number;
  readonly members?: readonly { id: string; metadata?: Record<string, unknown> }[];
  readonly action?: string;
  readonly memberId?: string;
}

/** Options of {@link verifyFrameworks}. */
export interface VerifyOptions {
  /** The exact answer the model gives (a demo runtime with a fixed answer); unset: any non-empty answer. */
  readonly answer?: string;
  /** How long to wait for each expected message. Default 15 s. */
  readonly timeoutMs?: number;
}

class VerifyError extends Error {
  override name = 'VerifyError';
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new VerifyError(`verify: ${message}`);
}

/**
 * The sample's self-check, over real connections on every transport (no browser): the pages are served; the
 * ticker ticks; a message posted on `/live` reaches every client and bad input is refused to its sender alone;
 * `/ai` streams an answer to the asker alone; in the room, people see each other and the AI member, the AI
 * member's answer streams to everyone and is then said as a message, and a late joiner gets it from history.
 * Returns the checks passed; throws on the first thing that is wrong.
 */
export async function verifyFrameworks(app: Frameworks, options: VerifyOptions = {}): Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const done: string[] = [];
  const clients: TestClient[] = [];
  const connect = async (path: string, transport: TestTransport) => {
    const client = await connectTestClient(new URL(path, app.url).toString(), transport);
    clients.push(client);
    const next = async (predicate: (frame: Frame) => boolean = () => true): Promise<Frame> =>
      JSON.parse(
        await client.messages.waitFor((message) => predicate(JSON.parse(message) as Frame), timeoutMs),
      ) as Frame;
    return { client, next, send: (message: unknown) => client.send(JSON.stringify(message)) };
  };
  const answered = (text: string): boolean =>
    options.answer === undefined ? text.trim().length > 0 : text === options.answer;
  try {
    await checkPages(app);
    done.push('the index and the React, Vue and Svelte pages are served with their scripts');

    const ticker = await connect('/ticker', 'websocket');
    const first = await ticker.next();
    const second = await ticker.next();
    assert(
      Number.isInteger(first.n) && second.n === first.n! + 1,
      `ticks follow each other: ${first.n}, ${second.n}`,
    );
    done.push('/ticker pushes a tick to its clients');

    const alice = await connect('/live', 'websocket');
    const bob = await connect('/live', 'sse');
    await alice.send({ from: 'alice', text: ' hello ' });
    for (const client of [alice, bob]) {
      const message = await client.next();
      assert(
        message.from === 'alice' && message.text === 'hello',
        `/live delivers "alice: hello", got ${JSON.stringify(message)}`,
      );
    }
    done.push('/live delivers a posted message to every client, the sender too');

    // Over WebSocket a refusal is an error frame; a post (HTTP transports) is answered 400.
    await alice.client.send('not json');
    await alice.send({ from: 'alice', text: '' });
    const refusals = [await alice.next(), await alice.next()];
    assert(
      refusals[0]!.type === 'error' &&
        refusals[0]!.code === 'INVALID_JSON' &&
        refusals[1]!.code === 'BAD_REQUEST',
      `bad input is refused (INVALID_JSON, BAD_REQUEST), got ${JSON.stringify(refusals)}`,
    );
    const status = await bob.send({ from: 'bob', text: 42 });
    assert(status === 400, `a bad post is answered 400, got ${status}`);
    await bob.send({ from: 'bob', text: 'still here' });
    for (const client of [alice, bob]) {
      const message = await client.next();
      assert(
        message.from === 'bob' && message.text === 'still here',
        `after refusals, got ${JSON.stringify(message)}`,
      );
    }
    done.push('/live refuses bad input to its sender alone and keeps serving');

    const carol = await connect('/ai', 'streaming');
    const dave = await connect('/ai', 'long-polling');
    await carol.client.send('What is Atmosphere?');
    const answer = await streamedAnswer(carol.next);
    assert(
      answered(answer.text),
      `/ai answers ${JSON.stringify(options.answer ?? 'something')}, got ${JSON.stringify(answer.text)}`,
    );
    await dave.client.send('And what is new?');
    const daves = await dave.next();
    assert(
      daves.sessionId !== answer.sessionId && daves.seq === 1,
      `/ai streams to the asker alone, dave got ${JSON.stringify(daves)}`,
    );
    assert(answered((await streamedAnswer(dave.next, daves)).text), 'the second asker gets an answer too');
    done.push('/ai streams an answer, in order, to the asker alone');

    await checkRoom(connect, answered);
    done.push(`two people join #${ROOM} and see each other and ${AI_MEMBER}`);
    done.push(`${AI_MEMBER} streams its answer to the room, then says it`);
    done.push('a late joiner gets the conversation from history');
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
  return done;
}

type Connect = (
  path: string,
  transport: TestTransport,
) => Promise<{
  next: (predicate?: (frame: Frame) => boolean) => Promise<Frame>;
  send: (message: unknown) => Promise<number>;
}>;

/** Reads one AI answer (frames of one session, `seq` 1, 2, 3…) up to `complete`: its text and session. */
async function streamedAnswer(
  next: (predicate?: (frame: Frame) => boolean) => Promise<Frame>,
  first?: Frame,
): Promise<{ text: string; sessionId: string }> {
  let frame = first ?? (await next((f) => f.sessionId !== undefined));
  const sessionId = frame.sessionId!;
  let text = '';
  for (let expected = 1; ; expected++) {
    assert(
      frame.sessionId === sessionId && frame.seq === expected,
      `frame ${expected} of the answer, got ${JSON.stringify(frame)}`,
    );
    if (frame.type === 'streaming-text') text += String(frame.data);
    if (frame.type === 'error')
      throw new VerifyError(`verify: the answer failed: ${JSON.stringify(frame.data)}`);
    if (frame.type === 'complete') return { text, sessionId };
    // The frames of the answer; messages that are not AI frames (the connection's `ai-role`) are not counted.
    frame = await next((f) => f.sessionId !== undefined);
  }
}

async function checkPages(app: Frameworks): Promise<void> {
  const index = await (await fetch(app.url)).text();
  for (const framework of ['react', 'vue', 'svelte']) {
    assert(index.includes(`href="/${framework}/"`), `the index links /${framework}/`);
    const page = await fetch(new URL(`/${framework}/`, app.url));
    assert(page.headers.get('content-type') === 'text/html; charset=utf-8', `/${framework}/ is a page`);
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(
      await page.text(),
    )?.[1];
    assert(script, `/${framework}/ loads a script`);
    const bundle = await fetch(new URL(script, app.url));
    assert(
      bundle.status === 200 && bundle.headers.get('content-type') === 'text/javascript; charset=utf-8',
      `${script} is served`,
    );
    await bundle.arrayBuffer();
  }
  const missing = await fetch(new URL('/src/server.ts', app.url));
  await missing.arrayBuffer();
  assert(missing.status === 404, 'nothing but the pages is served');
}

async function checkRoom(connect: Connect, answered: (text: string) => boolean): Promise<void> {
  const alice = await connect('/rooms', 'websocket');
  const bob = await connect('/rooms', 'long-polling');
  await alice.send({ type: 'join', room: ROOM, memberId: 'alice' });
  const ack = await alice.next((f) => f.type === 'join_ack');
  const ai = ack.members?.find((member) => member.id === AI_MEMBER);
  assert(ai?.metadata?.['ai'] === true, `the room lists its AI member, got ${JSON.stringify(ack.members)}`);
  await bob.send({ type: 'join', room: ROOM, memberId: 'bob' });
  const bobAck = await bob.next((f) => f.type === 'join_ack');
  assert(
    JSON.stringify(bobAck.members?.map((member) => member.id)) ===
      JSON.stringify([AI_MEMBER, 'alice', 'bob']),
    `bob sees everyone, got ${JSON.stringify(bobAck.members)}`,
  );
  await alice.next((f) => f.type === 'presence' && f.action === 'join' && f.memberId === 'bob');

  await bob.send({ type: 'broadcast', room: ROOM, data: { text: `@${AI_MEMBER} what is new?` } });
  const question = await alice.next((f) => f.type === 'message' && f.from === 'bob');
  assert(typeof question.id === 'number', 'room messages are numbered (history is on)');
  for (const client of [alice, bob]) {
    const streamed = await streamedAnswer((predicate) =>
      client.next((f) => f.from === AI_MEMBER && f.sessionId !== undefined && (predicate?.(f) ?? true)),
    );
    assert(answered(streamed.text), `the AI member answers, got ${JSON.stringify(streamed.text)}`);
    const said = await client.next((f) => f.type === 'message' && f.from === AI_MEMBER);
    const reply = said.data as { text?: string; sessionId?: string; replyTo?: { from?: string } };
    assert(
      reply.text === streamed.text && reply.sessionId === streamed.sessionId && reply.replyTo?.from === 'bob',
      `the answer is said as a message with the streamed text, got ${JSON.stringify(said)}`,
    );
  }

  const carol = await connect('/rooms', 'sse');
  await carol.send({ type: 'join', room: ROOM, memberId: 'carol', sinceId: 0 });
  await carol.next((f) => f.type === 'join_ack');
  const history = [await carol.next(), await carol.next()];
  assert(
    history[0]!.from === 'bob' &&
      history[1]!.from === AI_MEMBER &&
      history.every((f) => f.type === 'message'),
    `carol gets the question and the answer from history, got ${JSON.stringify(history)}`,
  );
}
