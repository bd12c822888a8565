import { startAiChat } from './server.ts';

const port = Number(process.env['PORT'] ?? 8080);
const chat = await startAiChat({ port, host: process.env['HOST'] ?? '127.0.0.1' });
console.log(`AI chat sample: open ${chat.url} (runtime: ${chat.endpoint.runtime.name})`);

const stop = (): void => {
  chat.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
