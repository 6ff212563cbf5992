/**
 * A minimal UnpackCtx for unpacker tests: counts charged bytes and records heuristics,
 * with the same limit semantics the orchestrator promises (charge throws LimitExceeded,
 * room() is what one more member may still produce, checkTime() enforces maxScanTime).
 */
import { DEFAULT_LIMITS, LimitExceeded, type Limits } from "../../host/limits.js";
import type { Child, UnpackCtx, Unpacker } from "../../host/unpack/types.js";

export type TestCtx = UnpackCtx & { charged: number; heuristics: string[] };

export function makeCtx(limits: Partial<Limits> = {}): TestCtx {
  const lim: Limits = { ...DEFAULT_LIMITS, ...limits };
  const deadline = Date.now() + lim.maxScanTime;
  const ctx: TestCtx = {
    limits: lim,
    charged: 0,
    heuristics: [],
    charge(n: number): void {
      if (n > lim.maxFileSize) throw new LimitExceeded("MaxFileSize", `${n} bytes`);
      if (ctx.charged + n > lim.maxScanSize) throw new LimitExceeded("MaxScanSize", `${ctx.charged + n} bytes`);
      ctx.charged += n;
    },
    room(): number {
      return Math.max(0, Math.min(lim.maxFileSize, lim.maxScanSize - ctx.charged));
    },
    checkTime(): void {
      if (Date.now() > deadline) throw new LimitExceeded("MaxScanTime");
    },
    heuristic(name: string): void {
      ctx.heuristics.push(name);
    },
  };
  return ctx;
}

/** Drain an unpacker (sync or async) into an array. */
export async function collect(unpacker: Unpacker, data: Uint8Array, ctx: UnpackCtx = makeCtx()): Promise<Child[]> {
  const out: Child[] = [];
  for await (const child of unpacker(data, ctx)) out.push(child);
  return out;
}
