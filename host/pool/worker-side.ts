/**
 * The worker-thread half of the WorkerPool protocol. A worker file calls
 *   serveJobs(async (workerData) => { ...load engine...; return (req) => answer })
 * which runs init, reports {type:"ready"} (or {type:"init-error"}), then answers each
 * {id, req} with {id, ok:true, res} or {id, ok:false, fatal, error}.
 * Must not import anything that needs a TypeScript loader: workers run compiled JS.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { JobMessage, ReplyErr, ReplyOk, WorkerMessage } from "./protocol.js";
import { describeError } from "./protocol.js";

export type JobHandler<Req, Res> = (req: Req) => Promise<Res> | Res;

export interface ServeOptions {
  /** Errors after which this worker must not be reused (the pool replaces it and rejects
   *  the job with WorkerCrashed). Default: WebAssembly traps, because a trap can stop an
   *  instance half-way through updating its memory. */
  isFatal?: (err: unknown) => boolean;
}

export function isWasmTrap(err: unknown): boolean {
  return err instanceof WebAssembly.RuntimeError;
}

/**
 * Run `init` with this worker's workerData, then serve jobs until the pool terminates
 * the thread. Resolves once the worker is serving (or has reported an init failure).
 */
export async function serveJobs<Req, Res>(
  init: (workerData: unknown) => Promise<JobHandler<Req, Res>> | JobHandler<Req, Res>,
  opts: ServeOptions = {},
): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error("serveJobs() must run inside a worker thread started by WorkerPool");
  const post = (m: WorkerMessage<Res>): void => port.postMessage(m);
  const isFatal = opts.isFatal ?? isWasmTrap;

  let handler: JobHandler<Req, Res>;
  try {
    handler = await init(workerData);
    if (typeof handler !== "function") throw new TypeError("serveJobs init must return a job handler function");
  } catch (e) {
    // No listener is installed, so the thread exits on its own after this message.
    post({ type: "init-error", error: describeError(e) });
    return;
  }

  let untrusted = false;
  port.on("message", (msg: unknown) => {
    if (!isJobMessage<Req>(msg)) {
      // The pool never sends this; crash loudly so the pool replaces us.
      throw new Error(`worker received a malformed job message: ${JSON.stringify(msg)?.slice(0, 200)}`);
    }
    if (untrusted) return; // the pool is terminating us after a fatal error
    void answer(msg);
  });
  post({ type: "ready" });

  async function answer(msg: JobMessage<Req>): Promise<void> {
    let reply: ReplyOk<Res> | ReplyErr;
    try {
      reply = { id: msg.id, ok: true, res: await handler(msg.req) };
    } catch (e) {
      const fatal = isFatal(e);
      if (fatal) untrusted = true;
      reply = { id: msg.id, ok: false, fatal, error: describeError(e) };
    }
    try {
      post(reply);
    } catch (e) {
      // e.g. DataCloneError: the result holds a function or other uncloneable value
      post({ id: msg.id, ok: false, fatal: false, error: describeError(e) });
    }
  }
}

function isJobMessage<Req>(m: unknown): m is JobMessage<Req> {
  return typeof m === "object" && m !== null && typeof (m as { id?: unknown }).id === "number" && "req" in m;
}
