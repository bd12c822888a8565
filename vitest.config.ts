import { defineConfig } from 'vitest/config';

/**
 * One run for the whole workspace: every package and sample is a vitest project (its own vitest.config.ts).
 * Under CI a JSON report is written too, which `.ci/run` turns into its summary line.
 */
export default defineConfig({
  test: {
    projects: ['packages/*', 'samples/*'],
    reporters: process.env['CI'] ? ['default', 'json'] : ['default'],
    outputFile: { json: '.ci/out/vitest.json' },
  },
});
