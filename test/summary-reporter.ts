/** Prints one plain closing line, "tests: N passed, N failed", that CI log readers
 *  understand whatever the runner (vitest's own summary is decorated for terminals). */
import type { Reporter } from "vitest/reporters";

type Task = { type: string; result?: { state?: string }; tasks?: Task[] };

export default class SummaryReporter implements Reporter {
  onFinished(files: unknown[] = [], errors: unknown[] = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const walk = (t: Task): void => {
      if (t.type === "test") {
        if (t.result?.state === "pass") passed++;
        else if (t.result?.state === "fail") failed++;
        else skipped++;
      }
      t.tasks?.forEach(walk);
    };
    for (const f of files as Task[]) {
      if (f.result?.state === "fail" && !f.tasks?.length) failed++; // a file that did not load
      walk(f);
    }
    failed += errors.length;
    console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  }
}
