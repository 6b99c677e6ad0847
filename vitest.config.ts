import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (p: string): string => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^xcluster\/vitest$/, replacement: src('vitest/index.ts') },
      { find: /^xcluster$/, replacement: src('index.ts') },
    ],
  },
  test: {
    // Real VMs under TCG: a cluster boots in tens of seconds on 2 cores.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    // Forks, not threads: QEMU children and signals belong to a process.
    pool: 'forks',
    maxWorkers: 2,
    include: ['test/**/*.test.ts', 'experiments/**/*.test.ts'],
    // What tests attach (a failing cluster's consoles, pictures, pcaps) goes with the other results.
    attachmentsDir: 'test-results/attachments',
  },
})
