import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // Lets documentation snippets import the package by its published name.
    alias: [
      { find: /^colloquy\/storage\/(.*)$/, replacement: src('./src/storage/$1.ts') },
      { find: /^colloquy\/react\/suspense$/, replacement: src('./src/react/suspense.ts') },
      { find: /^colloquy\/react$/, replacement: src('./src/react/index.ts') },
      { find: /^colloquy\/testing\/storage-contract$/, replacement: src('./src/testing/storage-contract.ts') },
      { find: /^colloquy\/testing$/, replacement: src('./src/testing/index.ts') },
      { find: /^colloquy\/relay$/, replacement: src('./relay/index.ts') },
      { find: /^colloquy$/, replacement: src('./src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
