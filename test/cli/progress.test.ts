/** The TTY progress bar: appears only after a delay, shows totals, erases itself. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Progress } from "../../host/cli/progress.js";

function fakeTty() {
  const writes: string[] = [];
  return { writes, stream: { columns: 100, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("Progress", () => {
  it("draws nothing during the first second", () => {
    const { writes, stream } = fakeTty();
    const p = new Progress(stream);
    p.start();
    vi.advanceTimersByTime(800);
    expect(writes).toEqual([]);
    p.stop();
    expect(writes).toEqual([]); // nothing drawn, nothing to erase
  });

  it("then shows files, bytes and a bar against the totals, and erases itself on stop", () => {
    const { writes, stream } = fakeTty();
    const p = new Progress(stream);
    p.start();
    p.setTotals(4, 4 * 1024 * 1024);
    p.fileDone(1024 * 1024);
    p.fileDone(1024 * 1024);
    vi.advanceTimersByTime(1200);
    const last = writes[writes.length - 1];
    expect(last).toMatch(/^\r\x1b\[K\[#{12}-{12}\] 2\/4 files {2}2\.0 MB\/4\.0 MB {2}\S+ \S+\/s$/);
    p.stop();
    expect(writes[writes.length - 1]).toBe("\r\x1b[K");
  });

  it("never draws wider than the terminal", () => {
    const { writes, stream } = fakeTty();
    (stream as { columns: number }).columns = 30;
    const p = new Progress(stream);
    p.start();
    vi.advanceTimersByTime(1200);
    p.stop();
    for (const w of writes) expect(w.replace("\r\x1b[K", "").length).toBeLessThan(30);
  });
});
