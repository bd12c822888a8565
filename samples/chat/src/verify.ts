import { silentLogger } from '@atmosphere/runtime';
import { startChat } from './server.ts';
import { verifyChat } from './verify-check.ts';

const chat = await startChat({ port: 0, logger: silentLogger });
let code = 0;
try {
  for (const step of await verifyChat(chat)) console.log(`ok - ${step}`);
  console.log(`chat sample verified (AI: ${chat.model.demo ? 'demo model' : chat.model.runtime})`);
} catch (error) {
  console.error((error as Error).message);
  code = 1;
} finally {
  await chat.close();
}
process.exit(code);
