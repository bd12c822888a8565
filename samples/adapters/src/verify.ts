/**
 * Self-check of the sample: `pnpm verify` (or `node --conditions=@atmosphere/source src/verify.ts`). Starts it
 * on a free port, asks each endpoint a question with a protocol client and asserts the streamed answers. Exit
 * 0 when every check passed, 1 otherwise.
 */
import { verifyAdapters } from './verify-check.ts';

const result = await verifyAdapters();
console.log('Adapters sample');
for (const line of result.lines) console.log(`  ${line}`);
process.exitCode = result.ok ? 0 : 1;
