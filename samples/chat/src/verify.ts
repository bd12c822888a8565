import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@atmosphere/runtime';
import { startChat } from './server.ts';
import { verifyChat } from './verify-check.ts';

// Durable as when started, on a file of its own that goes away afterwards: the check leaves nothing behind.
const dir = await mkdtemp(join(tmpdir(), 'atmosphere-chat-verify-'));
const chat = await startChat({ port: 0, logger: silentLogger, durable: join(dir, 'durable.sqlite') });
let code = 0;
try {
  for (const step of await verifyChat(chat)) console.log(`ok - ${step}`);
  console.log(
    `chat sample verified (AI: ${chat.model.demo ? 'demo model' : chat.model.runtime}; ${chat.durableFile ? 'durable on SQLite' : 'in memory'})`,
  );
} catch (error) {
  console.error((error as Error).message);
  code = 1;
} finally {
  await chat.close();
  await rm(dir, { recursive: true, force: true });
}
process.exit(code);
