import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/deploy/**/*.test.ts', 'test/integration/**/*.test.ts'],
    setupFiles: ['test/helpers/cleanup.ts'],
    // Integration suites start redis-server and replica processes; on a 2-core machine they
    // run one file at a time so timings stay meaningful.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    globals: false,
    reporters: ['default'],
  },
});
