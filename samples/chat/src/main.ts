import { startChat } from './server.ts';

const chat = await startChat({
  port: Number(process.env['PORT'] ?? 8080),
  host: process.env['HOST'] ?? '127.0.0.1',
});
const answering = chat.model.demo
  ? 'the DEMO model (canned answers; set LLM_API_KEY for a real one)'
  : `${chat.model.runtime}${chat.model.model ? ` (${chat.model.model})` : ''}`;
console.log(`Atmosphere chat: open ${chat.url} in two tabs. AI members answer with ${answering}.`);
console.log(
  chat.admin.generatedToken === undefined
    ? `Live dashboard: ${chat.admin.url} (log in with CHAT_ADMIN_TOKEN).`
    : `Live dashboard: ${chat.admin.url}#token=${chat.admin.generatedToken} (a token made for this run; set CHAT_ADMIN_TOKEN to choose one).`,
);

if (chat.tracing?.destination.exporter === 'otlp')
  console.log(`Traces: OpenTelemetry, OTLP/HTTP to ${chat.tracing.destination.url}.`);
else if (chat.tracing?.destination.exporter === 'console')
  console.log('Traces: OpenTelemetry, printed here.');

const stop = (): void => {
  chat.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
