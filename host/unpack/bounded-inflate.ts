/**
 * zlib inflate with the output capped before it is materialised: at ctx.room() (what one
 * more member may still produce) and at limits.maxRatio times the compressed size.
 * Used by the PDF FlateDecode filter and PowerPoint's compressed embedded objects.
 */
import { constants, inflateSync } from "node:zlib";
import { LimitExceeded } from "../limits.js";
import type { UnpackCtx } from "./types.js";

/**
 * Inflates a zlib stream; the caller charges the result (it may be an intermediate
 * stage of a filter chain that is charged once, at the end). Over the cap it throws LimitExceeded
 * (MaxRatio when the ratio cap is the smaller one, else the limit ctx.charge reports).
 * A truncated stream returns what was decoded; corrupt or non-zlib input returns null
 * (callers then keep the raw bytes).
 */
export function boundedInflate(input: Uint8Array, ctx: UnpackCtx): Uint8Array | null {
  const room = ctx.room();
  const ratioCap = Math.max(input.length, 1) * ctx.limits.maxRatio;
  const cap = Math.min(room, ratioCap);
  let out: Buffer;
  try {
    // Z_SYNC_FLUSH as the final flush returns the output of a truncated stream instead of
    // throwing "unexpected end of file": PDFs in the wild are often cut short.
    out = inflateSync(input, { maxOutputLength: Math.max(1, cap), finishFlush: constants.Z_SYNC_FLUSH });
  } catch (e) {
    if ((e as { code?: string }).code !== "ERR_BUFFER_TOO_LARGE") return null;
    if (ratioCap < room) throw new LimitExceeded("MaxRatio", `zlib stream over ${ctx.limits.maxRatio}:1`);
    ctx.charge(room + 1); // throws the limit (MaxFileSize or MaxScanSize) that set room()
    throw new LimitExceeded("MaxScanSize"); // unreachable unless ctx.charge is lenient
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
