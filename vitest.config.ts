import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // Lets documentation snippets import the package by its published name.
    alias: [
      { find: /^colloquy\/storage\/(.*)$/, replacement: src('./src/storage/$1.ts') },
      { find: /^colloquy\/testing\/storage-contract$/, replacement: src('./src/testing/storage-contract.ts') },
      { find: /^colloquy\/testing$/, replacement: src('./src/testing/index.ts') },
      { find: /^colloquy\/relay$/, replacement: src('./relay/index.ts') },
      { find: /^colloquy$/, replacement: src('./src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
