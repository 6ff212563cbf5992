/**
 * The 7-Zip WASM runtime (7z-wasm: 7-Zip 24.09 built with Emscripten) behind a sandbox:
 * one instance per process, created lazily, reused across archives, discarded when its
 * heap has grown large or a run ended abnormally.
 *
 * Sandbox facts this module relies on and checks:
 * - Only the in-memory MEMFS is mounted (plus Emscripten's /proc/self/fd); NODEFS is
 *   compiled in but never mounted, and WASM code cannot mount filesystems itself, so
 *   7-Zip cannot touch the real disk. `assertMemfsOnly` verifies it at startup.
 * - callMain is synchronous and cannot be interrupted from outside. We bound it from the
 *   inside instead: MEMFS read/write/create hooks (JS called synchronously by 7-Zip's
 *   syscalls) count output bytes and files and check the deadline, and fail the syscall
 *   with ENOSPC past a limit, which makes 7-Zip abort. A codec that loops without doing
 *   any I/O could still run unbounded: we only feed archives whose listing is within
 *   limits, and 7-Zip's decoders always consume input or produce output as they go.
 * - The heap (max 2 GiB) never shrinks: after a run that left it above HEAP_RESET_BYTES
 *   the instance is dropped and the next archive gets a fresh one (about 5 ms; the
 *   compiled module is cached).
 * - Emscripten's quit handler sets process.exitCode to 7-Zip's exit status; we restore it.
 * - callMain was written to run once: it allocates argv on the WASM stack and never pops
 *   it, so the 64 KiB stack overflows after ~290 extractions and 7-Zip crashes ("table
 *   index is out of bounds"). We save and restore the stack pointer around every run.
 * - This build has C++ exception catching disabled: any exception 7-Zip throws (wrong
 *   password on encrypted headers, some corrupt inputs, bad_alloc) aborts the whole run
 *   and escapes callMain as a JS throw. The run reports `aborted` and the instance is
 *   discarded, since its C++ state is no longer trustworthy.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import SevenZipImport, { type FileSystem, type SevenZipModule, type SevenZipModuleFactory } from "7z-wasm";

/** The package's typings are CommonJS with `export default`: under NodeNext TypeScript
 *  types the default import as the module object; at runtime Node gives the factory
 *  (which also carries .default) and Vite's ES build gives the factory alone. */
const imported = SevenZipImport as unknown as SevenZipModuleFactory | { default: SevenZipModuleFactory };
const SevenZipFactory: SevenZipModuleFactory = typeof imported === "function" ? imported : imported.default;

/** Heap size above which an instance is recycled instead of reused. 7-Zip needs ~16 MiB
 *  idle and dictionary + buffers while decoding (64 MiB for -mx9 LZMA2); 256 MiB keeps
 *  normal archives on one instance and returns a hostile one's memory promptly. */
const HEAP_RESET_BYTES = 256 * 1024 * 1024;
/** Output lines kept per run. A -slt listing takes ~10 lines per member, so this holds
 *  listings of ~100k members, past maxFiles; more and the run is cut short. */
export const MAX_OUTPUT_LINES = 1_000_000;
const ENOSPC = 28;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** Budget for one run, enforced by the MEMFS hooks. */
export interface RunBudget {
  /** total bytes 7-Zip may write */
  maxBytes: number;
  /** largest single file */
  maxFileBytes: number;
  /** regular files 7-Zip may create */
  maxFiles: number;
  /** throws when the scan deadline has passed (ctx.checkTime) */
  checkTime(): void;
}

export type Tripped = "MaxScanSize" | "MaxFileSize" | "MaxFiles" | "MaxScanTime" | "Output";

export interface RunResult {
  exitCode: number;
  stdout: string[];
  stderr: string[];
  /** the first limit a hook enforced, if any */
  tripped: Tripped | null;
  written: number;
  /** what escaped callMain when the run aborted (the instance is then discarded) */
  aborted: string | null;
}

interface StackExports {
  emscripten_stack_get_current(): number;
  _emscripten_stack_restore(sp: number): void;
}

interface Instance {
  module: SevenZipModule;
  memory: WebAssembly.Memory;
  stack: StackExports;
  job: Job | null;
}

interface Job {
  budget: RunBudget;
  out: string[];
  err: string[];
  written: number;
  files: number;
  tripped: Tripped | null;
}

let compiled: WebAssembly.Module | null = null;
let current: Promise<Instance> | null = null;
let resolved: Instance | null = null;

/** The shared instance. Startup cost, measured on the reference VM: compile ~17 ms
 *  (once per process), instantiate + FS init ~5 ms, heap 16 MiB, RSS +~40 MiB. */
export async function sevenZip(): Promise<Instance> {
  current ??= create().then(
    (i) => (resolved = i),
    (e: unknown) => {
      current = null;
      throw e;
    },
  );
  return current;
}

async function create(): Promise<Instance> {
  if (!compiled) {
    const require = createRequire(import.meta.url);
    const wasmPath = require.resolve("7z-wasm/7zz.wasm");
    compiled = await WebAssembly.compile(readFileSync(wasmPath));
  }
  const mod = compiled;
  const inst: Partial<Instance> & { job: Job | null } = { job: null };
  const line = (which: "out" | "err") => (s: string) => {
    const j = inst.job;
    if (!j) return;
    const buf = which === "out" ? j.out : j.err;
    if (j.out.length + j.err.length >= MAX_OUTPUT_LINES) j.tripped ??= "Output";
    else buf.push(s);
  };
  const module = await SevenZipFactory({
    print: line("out"),
    printErr: line("err"),
    stdin: () => null as unknown as number, // EOF: 7-Zip never gets an answer to a prompt
    instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
      void WebAssembly.instantiate(mod, imports).then((i) => {
        inst.memory = i.exports.memory as WebAssembly.Memory;
        inst.stack = i.exports as unknown as StackExports;
        done(i, mod);
      });
      return {};
    },
  } as never);
  inst.module = module;
  const fs = module.FS;
  assertMemfsOnly(fs);
  (fs as unknown as { ignorePermissions: boolean }).ignorePermissions = true; // tar members can be mode 000
  installHooks(fs, inst as Instance);
  return inst as Instance;
}

function assertMemfsOnly(fs: FileSystem): void {
  const f = fs as unknown as { root: { mount: unknown }; getMounts(m: unknown): Array<{ mountpoint: string }> };
  const points = f.getMounts(f.root.mount).map((m) => m.mountpoint);
  const allowed = new Set(["/", "/proc/self/fd"]);
  if (points.some((p) => !allowed.has(p))) throw new Error(`7z-wasm: unexpected mounts ${points.join(", ")}`);
}

/** Wraps MEMFS's shared file and directory operations so every run is metered. */
function installHooks(fs: FileSystem, inst: Instance): void {
  const Errno = (fs as unknown as { ErrnoError: new (errno: number) => Error }).ErrnoError;
  fs.mkdir("/.probe");
  fs.writeFile("/.probe/f", new Uint8Array(1));
  type Node = { usedBytes?: number; mode: number; node_ops: Record<string, Function>; stream_ops: Record<string, Function> };
  const fileNode = fs.lookupPath("/.probe/f").node as unknown as Node;
  const dirNode = fs.lookupPath("/.probe").node as unknown as Node;
  const streamOps = fileNode.stream_ops;
  const fileOps = fileNode.node_ops;
  const dirOps = dirNode.node_ops;
  fs.unlink("/.probe/f");
  fs.rmdir("/.probe");

  const fail = (j: Job, why: Tripped): never => {
    j.tripped ??= why;
    throw new Errno(ENOSPC);
  };
  const deadline = (j: Job) => {
    try {
      j.budget.checkTime();
    } catch {
      fail(j, "MaxScanTime");
    }
  };
  /** growth of a file to `newSize` bytes, checked against both byte budgets */
  const grow = (j: Job, node: Node, newSize: number) => {
    const growth = newSize - (node.usedBytes ?? 0);
    if (growth <= 0) return;
    if (newSize > j.budget.maxFileBytes) fail(j, "MaxFileSize");
    if (j.written + growth > j.budget.maxBytes) fail(j, "MaxScanSize");
    j.written += growth;
  };

  const write = streamOps.write;
  streamOps.write = function (stream: { node: Node }, buf: Uint8Array, off: number, len: number, pos: number, canOwn: boolean) {
    const j = inst.job;
    if (j) {
      deadline(j);
      grow(j, stream.node, pos + len);
    }
    return write.call(this, stream, buf, off, len, pos, canOwn);
  };
  const read = streamOps.read;
  streamOps.read = function (...args: unknown[]) {
    if (inst.job) deadline(inst.job);
    return read.apply(this, args);
  };
  const setattr = fileOps.setattr;
  fileOps.setattr = function (node: Node, attr: { size?: number }) {
    const j = inst.job;
    if (j && attr.size !== undefined) grow(j, node, attr.size);
    return setattr.call(this, node, attr);
  };
  const mknod = dirOps.mknod;
  dirOps.mknod = function (parent: Node, name: string, mode: number, dev: number) {
    const j = inst.job;
    if (j && (mode & S_IFMT) === S_IFREG) {
      deadline(j);
      if (++j.files > j.budget.maxFiles) fail(j, "MaxFiles");
    }
    return mknod.call(this, parent, name, mode, dev);
  };
}

/**
 * Runs one 7-Zip command under `budget`. The instance is recycled afterwards if the run
 * threw (7-Zip's C++ state may be inconsistent) or the heap grew past HEAP_RESET_BYTES.
 */
export function run7z(inst: Instance, args: string[], budget: RunBudget): RunResult {
  const job: Job = { budget, out: [], err: [], written: 0, files: 0, tripped: null };
  const savedExitCode = process.exitCode;
  inst.job = job;
  let exitCode = -1;
  let aborted: string | null = null;
  const sp = inst.stack.emscripten_stack_get_current();
  try {
    exitCode = inst.module.callMain(args) as unknown as number;
  } catch (e) {
    aborted = String(e); // an abort inside the WASM code (e.g. out of memory)
  } finally {
    inst.stack._emscripten_stack_restore(sp); // callMain leaves argv on the stack
    inst.job = null;
    process.exitCode = savedExitCode;
    if (aborted !== null || inst.memory.buffer.byteLength > HEAP_RESET_BYTES) discard(inst);
  }
  return { exitCode, stdout: job.out, stderr: job.err, tripped: job.tripped, written: job.written, aborted };
}

/** Drops the instance so the next archive gets a fresh heap. */
export function discard(inst: Instance): void {
  if (resolved === inst) {
    resolved = null;
    current = null;
  }
}

/** Current heap size (for tests and metrics). */
export function heapBytes(inst: Instance): number {
  return inst.memory.buffer.byteLength;
}
