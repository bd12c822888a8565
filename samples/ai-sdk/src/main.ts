import { startAiSdkSample } from './server.ts';

const port = Number(process.env['PORT'] ?? 8080);
const app = await startAiSdkSample({ port });
console.log(
  `AI SDK sample on ${app.url} (model: ${app.model}); ?transport=default uses the stock DefaultChatTransport`,
);
const stop = (): void => void app.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
