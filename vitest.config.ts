import { defineConfig } from 'vitest/config'

// One run, one local stack: tests/setup/global.ts starts it (in-memory database, free ports) and
// tests/setup/env.ts hands its URLs and keys to every test file.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/setup/global.ts'],
    setupFiles: ['tests/setup/env.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})
