/**
 * The messages exchanged between WorkerPool (main thread) and serveJobs (worker thread),
 * and the plain-data form errors take when they cross the thread boundary.
 * Kept free of any scanner type so the pool stays generic.
 */

/** pool → worker: one job; the worker gets its next job only after answering this one */
export interface JobMessage<Req> {
  id: number;
  req: Req;
}

/** an Error flattened to structured-cloneable data */
export interface RemoteError {
  name: string;
  message: string;
  code?: string;
}

/** worker → pool, once: init finished, send jobs */
export interface ReadyMessage {
  type: "ready";
}

/** worker → pool, instead of ready: init threw; the worker sends nothing else */
export interface InitErrorMessage {
  type: "init-error";
  error: RemoteError;
}

export interface ReplyOk<Res> {
  id: number;
  ok: true;
  res: Res;
}

/** fatal: the worker's state can no longer be trusted (e.g. a WebAssembly trap left an
 *  instance half-updated); the pool must replace the worker instead of reusing it */
export interface ReplyErr {
  id: number;
  ok: false;
  fatal: boolean;
  error: RemoteError;
}

export type WorkerMessage<Res> = ReadyMessage | InitErrorMessage | ReplyOk<Res> | ReplyErr;

/** Error messages travel into logs and wire replies; 4 KiB keeps a pathological message
 *  (e.g. one embedding a whole input) from bloating either. */
export const MAX_REMOTE_MESSAGE_CHARS = 4096;

/** Flatten anything thrown into a RemoteError (non-Error throwables included). */
export function describeError(e: unknown): RemoteError {
  const obj = typeof e === "object" && e !== null ? (e as { name?: unknown; message?: unknown; code?: unknown }) : undefined;
  const name = typeof obj?.name === "string" && obj.name !== "" ? obj.name : "Error";
  let message = typeof obj?.message === "string" ? obj.message : safeString(e);
  if (message.length > MAX_REMOTE_MESSAGE_CHARS) message = `${message.slice(0, MAX_REMOTE_MESSAGE_CHARS)}…`;
  const out: RemoteError = { name, message };
  if (typeof obj?.code === "string") out.code = obj.code;
  return out;
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return "unprintable thrown value";
  }
}

/** "Name: message" for log and error texts */
export function formatRemoteError(e: RemoteError): string {
  return `${e.name}: ${e.message}`;
}

export function hasType(m: unknown, type: string): boolean {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === type;
}

/** a well-formed reply to job `id` (error replies must carry a RemoteError) */
export function isReplyTo(m: unknown, id: number): boolean {
  if (typeof m !== "object" || m === null) return false;
  const r = m as { id?: unknown; ok?: unknown; error?: unknown };
  if (r.id !== id) return false;
  if (r.ok === true) return true;
  const e = r.error as { name?: unknown; message?: unknown } | undefined;
  return r.ok === false && typeof e?.name === "string" && typeof e.message === "string";
}

/** a short printable form of an unexpected message, for error texts */
export function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
