import { defineConfig } from "vitest/config";
// Developer benchmarks of single components; not part of npm test.
export default defineConfig({ test: { include: ["bench/dev/**/*.test.ts"], testTimeout: 600_000, pool: "forks" } });
