import { silentLogger } from '@atmosphere/runtime';
import { startFrameworks } from './server.ts';
import { verifyFrameworks } from './verify-check.ts';

const app = await startFrameworks({ port: 0, logger: silentLogger });
let code = 0;
try {
  for (const step of await verifyFrameworks(app)) console.log(`ok - ${step}`);
  console.log(`frameworks sample verified (AI: ${app.model.demo ? 'demo model' : app.model.runtime})`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  code = 1;
} finally {
  await app.close();
}
process.exit(code);
