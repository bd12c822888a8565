import { startAdapters } from './server.ts';

const sample = await startAdapters({
  port: Number(process.env['PORT'] ?? 8080),
  host: process.env['HOST'] ?? '127.0.0.1',
});
for (const [name, model] of Object.entries(sample.models))
  console.log(`${sample.url(`/ai/${name}`)}  ${name}: ${model}`);

const stop = (): void => {
  sample.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
