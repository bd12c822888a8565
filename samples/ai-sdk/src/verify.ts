import { silentLogger } from '@atmosphere/runtime';
import { startAiSdkSample } from './server.ts';
import { verifyAiSdk } from './verify-check.ts';

const app = await startAiSdkSample({ port: 0, logger: silentLogger });
let code = 0;
try {
  for (const step of await verifyAiSdk(app)) console.log(`ok - ${step}`);
  console.log(`ai-sdk sample verified (model: ${app.model})`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  code = 1;
} finally {
  await app.close();
}
process.exit(code);
