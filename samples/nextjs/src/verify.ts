import { silentLogger } from '@atmosphere/runtime';
import { ensureBuilt } from './build.ts';
import { startSample } from './server.ts';
import { verifySample } from './verify-check.ts';

// `next build` first when `.next/` is missing or older than the sources (shared with the tests and `start`).
console.log(`next build: ${await ensureBuilt()}`);
const sample = await startSample({ port: 0, logger: silentLogger });
let code = 0;
try {
  for (const step of await verifySample(sample)) console.log(`ok - ${step}`);
  console.log('Next.js sample verified (AI: demo model; custom server and route handler)');
} catch (error) {
  console.error((error as Error).message);
  code = 1;
} finally {
  await sample.close();
}
process.exit(code);
