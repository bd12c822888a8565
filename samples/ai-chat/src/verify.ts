/**
 * Self-check of the sample: `pnpm verify` (or `node --conditions=@atmosphere/source src/verify.ts`). Starts it
 * on a free port, sends a prompt with a protocol client and asserts the streamed answer completes. Exit 0 when
 * every check passed, 1 otherwise.
 */
import { verifyAiChat } from './verify-check.ts';

const result = await verifyAiChat();
console.log(`AI chat sample (runtime: ${result.runtime})`);
for (const line of result.lines) console.log(`  ${line}`);
process.exitCode = result.ok ? 0 : 1;
