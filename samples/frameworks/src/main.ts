import { startFrameworks } from './server.ts';

const app = await startFrameworks({
  port: Number(process.env['PORT'] ?? 8080),
  host: process.env['HOST'] ?? '127.0.0.1',
});
const answering = app.model.demo
  ? 'the DEMO model (canned answers; set LLM_API_KEY for a real one)'
  : `${app.model.runtime}${app.model.model ? ` (${app.model.model})` : ''}`;
console.log(
  `Atmosphere with React, Vue and Svelte: open ${app.url} (pages: ${app.url}react/, ${app.url}vue/, ${app.url}svelte/). AI answers with ${answering}.`,
);

const stop = (): void => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
