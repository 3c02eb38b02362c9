import { defineConfig } from 'vitest/config';

// `npm run test:faults`: the FAULTS.md matrix against real processes (see test/faults).
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    setupFiles: ['test/helpers/cleanup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 90_000,
  },
});
