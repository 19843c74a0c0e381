import { defineConfig } from 'vitest/config';

// `make test-reliability`: the daemon as a child process (the built bundle) against real nft in
// throwaway network namespaces. Slower than the integration suite (a few minutes on 2 cores);
// files run one at a time so daemon timings do not fight each other for the CPU.
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
