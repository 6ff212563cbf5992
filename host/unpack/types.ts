/**
 * The contract between the scan orchestrator (host/scan/) and every unpacker.
 * An unpacker gets the bytes of one object and yields the objects inside it. It never
 * recurses itself: the orchestrator scans each child and, if the child is a container,
 * calls the child's unpacker, counting depth, files, bytes and time.
 *
 * Rules for unpackers:
 * - Before materialising n output bytes, call ctx.charge(n) (throws LimitExceeded).
 *   Decompressors pass ctx.room() as their output cap (e.g. zlib maxOutputLength) so a
 *   bomb stops at the cap instead of after it.
 * - Call ctx.checkTime() inside long loops (throws LimitExceeded('MaxScanTime')).
 * - Malformed input: yield what could be recovered, then stop; throw UnpackError only when
 *   nothing sensible can be said. Never hang, never read past the buffer.
 * - Conditions worth a verdict go through ctx.heuristic(name), e.g.
 *   "Heuristics.Encrypted.Zip", "Heuristics.Zip.OverlappingFiles".
 */
import type { Limits } from "../limits.js";

export interface Child {
  /** name shown in the verdict path: the member name, attachment filename, or a
   *  synthetic one such as "part-2" or "gunzip" when the container has none */
  name: string;
  data: Uint8Array;
}

export interface UnpackCtx {
  readonly limits: Limits;
  /** account for n more output bytes; throws LimitExceeded("MaxScanSize" | "MaxFileSize") */
  charge(n: number): void;
  /** bytes one more member may still produce: min(maxFileSize, scan-size budget left) */
  room(): number;
  /** throws LimitExceeded("MaxScanTime") past the deadline */
  checkTime(): void;
  /** record a heuristic finding on the current object (a verdict, not an exception) */
  heuristic(name: string): void;
  /**
   * Optional: a buffer of n bytes to decode one member into, so that it is scanned where
   * it was written (no copy, no garbage). Valid until the next alloc call, which must not
   * come before the member was yielded: decode one member, yield it, then the next. Do
   * not keep reading an alloc'd buffer after calling alloc again.
   */
  alloc?(n: number): Uint8Array;
}

export type Unpacker = (data: Uint8Array, ctx: UnpackCtx) => Iterable<Child> | AsyncIterable<Child>;

export class UnpackError extends Error {
  constructor(public readonly format: string, message: string) {
    super(`${format}: ${message}`);
    this.name = "UnpackError";
  }
}
