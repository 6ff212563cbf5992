/**
 * WorkerPool against real worker_threads running the toy workers in fixtures/.
 * The workers use the real serveJobs from host/pool/worker-side.ts, transpiled to JS at
 * test time (workers run plain Node, with no TypeScript loader).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PoolError } from "../../host/pool/errors.js";
import { MAX_CONSECUTIVE_START_FAILURES, MAX_QUEUE, WorkerPool, type WorkerPoolOptions } from "../../host/pool/pool.js";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

let compiledDir = "";
let workerSide = "";

beforeAll(async () => {
  compiledDir = await mkdtemp(join(tmpdir(), "bulwark-pool-test-"));
  await writeFile(join(compiledDir, "package.json"), '{"type":"module"}');
  const srcDir = new URL("../../host/pool/", import.meta.url);
  for (const file of await readdir(srcDir)) {
    if (!file.endsWith(".ts")) continue;
    const src = await readFile(new URL(file, srcDir), "utf8");
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    await writeFile(join(compiledDir, file.replace(/\.ts$/, ".js")), out.outputText);
  }
  workerSide = pathToFileURL(join(compiledDir, "worker-side.js")).href;
});

afterAll(async () => {
  if (compiledDir) await rm(compiledDir, { recursive: true, force: true });
});

type Req = { op: string; [k: string]: unknown };
type Res = any;

const pools: WorkerPool<Req, Res>[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function makePool(opts: Partial<WorkerPoolOptions> & { data?: Record<string, unknown> } = {}) {
  const { data, ...rest } = opts;
  const pool = new WorkerPool<Req, Res>({
    workerFile: fixture("toy-worker.mjs"),
    size: 2,
    jobTimeoutMs: 60_000,
    ...rest,
    workerData: { workerSide, ...data },
  });
  pools.push(pool);
  return pool;
}

/** a gate the "wait-gate" op blocks on until open() */
function makeGate() {
  const sab = new SharedArrayBuffer(4);
  const view = new Int32Array(sab);
  return {
    sab,
    open() {
      Atomics.store(view, 0, 1);
      Atomics.notify(view, 0);
    },
  };
}

/** the rejection of p, failing the test if p resolves */
async function rejectionOf(p: Promise<unknown>): Promise<PoolError> {
  const outcome = await p.then(
    (v) => ({ resolved: v }),
    (e: unknown) => ({ rejected: e }),
  );
  if (!("rejected" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.resolved)}`);
  expect(outcome.rejected).toBeInstanceOf(PoolError);
  return outcome.rejected as PoolError;
}

describe("WorkerPool: normal operation", { timeout: 30_000 }, () => {
  it("answers 200 concurrent jobs on 2 workers, each with its own request's reply", async () => {
    const pool = makePool();
    await pool.start();
    const ns = Array.from({ length: 200 }, (_, i) => i * 7 + 3);
    const answers = await Promise.all(ns.map((n) => pool.run({ op: "echo", n })));
    answers.forEach((a, i) => {
      expect(a).toMatchObject({ n: ns[i], square: ns[i]! * ns[i]!, text: `answer to ${ns[i]}` });
    });
    expect(new Set(answers.map((a) => a.threadId)).size).toBe(2);
    expect([pool.busy, pool.queued, pool.restarts]).toEqual([0, 0, 0]);
  });

  it("transfers an ArrayBuffer instead of copying it", async () => {
    const pool = makePool({ size: 1 });
    await pool.start();
    const buf = new Uint8Array(1000).fill(5).buffer;
    expect(await pool.run({ op: "byte-length", buf }, [buf])).toBe(1005);
    expect(buf.byteLength).toBe(0); // detached: it moved to the worker
  });

  it("reports a handler's exception as JobFailed and keeps the same worker", async () => {
    const pool = makePool({ size: 1 });
    await pool.start();
    const before = await pool.run({ op: "echo", n: 1 });
    const err = await rejectionOf(pool.run({ op: "throw", message: "bad request 42" }));
    expect(err.code).toBe("EJOBFAILED");
    expect(err).toMatchObject({ name: "JobFailed", remoteName: "TypeError", remoteCode: "EBADREQ" });
    expect(err.message).toContain("bad request 42");
    const after = await pool.run({ op: "echo", n: 2 });
    expect(after.threadId).toBe(before.threadId);
    expect(pool.restarts).toBe(0);
  });

  it("rejects uncloneable requests and replies with JobFailed without losing the worker", async () => {
    const pool = makePool({ size: 1 });
    await pool.start();
    const sent = await rejectionOf(pool.run({ op: "echo", n: 1, fn: () => 1 }));
    expect(sent.code).toBe("EJOBFAILED");
    expect(sent.message).toMatch(/clone/i);
    const back = await rejectionOf(pool.run({ op: "uncloneable" }));
    expect(back.code).toBe("EJOBFAILED");
    expect(back.message).toMatch(/clone/i);
    expect(await pool.run({ op: "echo", n: 3 })).toMatchObject({ square: 9 });
    expect(pool.restarts).toBe(0);
  });

  it("rejects run() before start() with PoolNotStarted", async () => {
    const pool = makePool();
    expect((await rejectionOf(pool.run({ op: "echo", n: 1 }))).code).toBe("ENOTSTARTED");
  });
});

describe("WorkerPool: watchdog", { timeout: 30_000 }, () => {
  for (const op of ["spin", "wasm-spin"]) {
    it(`kills a worker stuck in "${op}" with JobTimeout while other jobs complete`, async () => {
      const gate = makeGate();
      const pool = makePool({ size: 2, data: { gate: gate.sab } });
      await pool.start();
      // One worker holds a long job (its own generous deadline), the other gets the spin.
      const held = pool.run({ op: "wait-gate", n: -1 });
      const stuck = pool.run({ op }, [], { timeoutMs: 300 });
      const queued = Array.from({ length: 20 }, (_, n) => pool.run({ op: "echo", n }));
      expect([pool.busy, pool.queued]).toEqual([2, 20]);

      const err = await rejectionOf(stuck);
      expect(err).toMatchObject({ name: "JobTimeout", code: "ETIMEDOUT", timeoutMs: 300 });
      const answers = await Promise.all(queued);
      answers.forEach((a, n) => expect(a).toMatchObject({ n, square: n * n }));
      gate.open();
      const heldAnswer = await held; // the job on the other worker was not disturbed
      expect(heldAnswer.n).toBe(-1);
      expect(answers.every((a) => a.threadId !== heldAnswer.threadId)).toBe(true); // served by the replacement
      expect(pool.restarts).toBe(1);
      expect(pool.state).toBe("running");
    });
  }
});

describe("WorkerPool: crashes", { timeout: 30_000 }, () => {
  const cases: { what: string; req: Req; expectReason: RegExp; limits?: WorkerPoolOptions["resourceLimits"] }[] = [
    { what: "an uncaught exception", req: { op: "uncaught", message: "toy kaboom" }, expectReason: /toy kaboom/ },
    { what: "process.exit", req: { op: "exit", code: 7 }, expectReason: /exited with code 7/ },
    {
      what: "exceeding maxOldGenerationSizeMb",
      req: { op: "oom" },
      expectReason: /memory limit/,
      limits: { maxOldGenerationSizeMb: 16 },
    },
    { what: "a WebAssembly trap inside the handler", req: { op: "trap" }, expectReason: /RuntimeError: unreachable/ },
    { what: "a WebAssembly trap that escaped", req: { op: "trap-escaped" }, expectReason: /unreachable/ },
    { what: "a reply nobody asked for", req: { op: "stray-reply" }, expectReason: /protocol violation/ },
  ];
  for (const c of cases) {
    it(`rejects the job with WorkerCrashed after ${c.what}, then serves from a replacement`, async () => {
      const pool = makePool({ size: 1, resourceLimits: c.limits });
      await pool.start();
      const first = await pool.run({ op: "echo", n: 1 });
      const err = await rejectionOf(pool.run(c.req));
      expect(err).toMatchObject({ name: "WorkerCrashed", code: "ECRASHED" });
      expect((err as unknown as { reason: string }).reason).toMatch(c.expectReason);
      const next = await pool.run({ op: "echo", n: 5 });
      expect(next).toMatchObject({ n: 5, square: 25 });
      expect(next.threadId).not.toBe(first.threadId);
      expect(pool.restarts).toBe(1);
    });
  }

  it("keeps the out-of-memory error code", async () => {
    const pool = makePool({ size: 1, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    await pool.start();
    const err = await rejectionOf(pool.run({ op: "oom" }));
    expect(err).toMatchObject({ code: "ECRASHED", workerCode: "ERR_WORKER_OUT_OF_MEMORY" });
  });

  it("gives up with PoolBroken when replacements keep failing at start", async () => {
    const spawnCounter = new SharedArrayBuffer(4);
    const pool = makePool({ size: 1, data: { spawnCounter, failInitAfter: 1 } });
    await pool.start();
    const crash = pool.run({ op: "exit", code: 3 });
    const waiting = pool.run({ op: "echo", n: 1 }); // queued behind the crash, no worker left
    expect((await rejectionOf(crash)).code).toBe("ECRASHED");
    const broken = await rejectionOf(waiting);
    expect(broken.code).toBe("EBROKEN");
    expect(broken.message).toContain("toy init refuses spawn");
    expect(pool.state).toBe("broken");
    expect(pool.restarts).toBe(MAX_CONSECUTIVE_START_FAILURES);
    expect(Atomics.load(new Int32Array(spawnCounter), 0)).toBe(1 + MAX_CONSECUTIVE_START_FAILURES);
    expect((await rejectionOf(pool.run({ op: "echo", n: 2 }))).code).toBe("EBROKEN");
  });
});

describe("WorkerPool: queue bound and close", { timeout: 30_000 }, () => {
  it(`rejects with PoolBusy beyond MAX_QUEUE (${MAX_QUEUE}) waiting jobs, then drains the queue`, async () => {
    const gate = makeGate();
    const pool = makePool({ size: 1, data: { gate: gate.sab } });
    await pool.start();
    const held = pool.run({ op: "wait-gate", n: 0 });
    const order: number[] = [];
    const queued = Array.from({ length: MAX_QUEUE }, (_, i) =>
      pool.run({ op: "echo", n: i }).then((a) => (order.push(a.n), a)),
    );
    expect(pool.queued).toBe(MAX_QUEUE);
    const busy = await rejectionOf(pool.run({ op: "echo", n: -1 }));
    expect(busy).toMatchObject({ name: "PoolBusy", code: "EBUSY" });
    gate.open();
    await held;
    const answers = await Promise.all(queued);
    expect(answers.every((a, i) => a.n === i && a.square === i * i)).toBe(true);
    expect(order.every((n, i) => n === i)).toBe(true); // FIFO: one worker finishes them in order
    expect([pool.busy, pool.queued]).toEqual([0, 0]);
  });

  it("close() rejects queued and running jobs with PoolClosed and refuses new ones", async () => {
    const gate = makeGate();
    const pool = makePool({ size: 1, data: { gate: gate.sab } });
    await pool.start();
    const running = pool.run({ op: "wait-gate", n: 0 });
    const queued = Array.from({ length: 5 }, (_, n) => pool.run({ op: "echo", n }));
    const outcomes = [running, ...queued].map(rejectionOf); // attach handlers before close()
    await pool.close();
    for (const err of await Promise.all(outcomes)) expect(err.code).toBe("ECLOSED");
    expect((await rejectionOf(pool.run({ op: "echo", n: 9 }))).code).toBe("ECLOSED");
    expect(pool.state).toBe("closed");
    await pool.close(); // idempotent
  });
});

describe("WorkerPool: start failures", { timeout: 30_000 }, () => {
  const cases: { what: string; file: URL | string; expectMessage: RegExp; startTimeoutMs?: number }[] = [
    { what: "init throws", file: fixture("init-throws.mjs"), expectMessage: /engine\.wasm missing/ },
    { what: "the module throws on load", file: fixture("load-throws.mjs"), expectMessage: /failed at load time/ },
    { what: "the worker file does not exist", file: fixture("no-such-worker.mjs"), expectMessage: /no-such-worker/ },
    { what: "init never finishes", file: fixture("never-ready.mjs"), expectMessage: /ready within 500 ms/, startTimeoutMs: 500 },
  ];
  for (const c of cases) {
    it(`fails start() with PoolStartFailed when ${c.what}`, async () => {
      const pool = makePool({ workerFile: c.file, size: 2, startTimeoutMs: c.startTimeoutMs });
      const err = await rejectionOf(pool.start());
      expect(err).toMatchObject({ name: "PoolStartFailed", code: "ESTART" });
      expect(err.message).toMatch(c.expectMessage);
      expect(pool.state).toBe("broken");
      expect((await rejectionOf(pool.run({ op: "echo", n: 1 }))).code).toBe("EBROKEN");
    });
  }
});
