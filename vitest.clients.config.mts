import { defineConfig } from 'vitest/config';

// `npm run test:clients`: checks with external tools (see test/clients/external-clients.test.ts).
export default defineConfig({
  test: {
    include: ['test/clients/**/*.test.ts'],
    setupFiles: ['test/helpers/cleanup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 30_000,
  },
});
