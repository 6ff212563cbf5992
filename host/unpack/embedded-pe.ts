/**
 * Carves Windows executables embedded inside other data (a dropper's body, an unpacked
 * image): every "MZ" with a valid PE header at a non-zero offset. Like ClamAV's embedded
 * PE scan, the carved object runs from the MZ to the end of the data (the embedded
 * file's own overlay included), so a payload stored last keeps its exact bytes.
 */
import type { Child, UnpackCtx, Unpacker } from "./types.js";

/** Executables carved per object. Droppers carry a handful; a buffer of "MZPE..." repeats
 *  would otherwise produce one overlapping child per 64 bytes. */
export const MAX_EMBEDDED_PE = 16;
/** e_lfanew limit: real headers sit in the first KiB; ClamAV's own check uses 0x1000-ish. */
const MAX_LFANEW = 0x1000;

/** Offsets (> 0) of plausible embedded PE headers. */
export function findEmbeddedPe(d: Uint8Array, limit = MAX_EMBEDDED_PE): number[] {
  const buf = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  const found: number[] = [];
  for (let at = buf.indexOf("MZ", 1, "latin1"); at >= 0 && found.length < limit; at = buf.indexOf("MZ", at + 2, "latin1")) {
    if (at + 0x40 > d.length) break;
    const lfanew = (d[at + 0x3c] | (d[at + 0x3d] << 8) | (d[at + 0x3e] << 16) | (d[at + 0x3f] << 24)) >>> 0;
    if (lfanew < 0x40 || lfanew > MAX_LFANEW || at + lfanew + 24 > d.length) continue;
    const sig = at + lfanew;
    if (d[sig] !== 0x50 || d[sig + 1] !== 0x45 || d[sig + 2] !== 0 || d[sig + 3] !== 0) continue;
    const sections = d[sig + 6] | (d[sig + 7] << 8);
    if (sections === 0 || sections > 96) continue; // the PE loader's own limit is 96
    found.push(at);
  }
  return found;
}

/** Yields each embedded executable as "embedded-pe@<offset>". */
export const unpackEmbeddedPe: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  for (const at of findEmbeddedPe(data)) {
    const part = data.subarray(at);
    ctx.charge(part.length);
    yield { name: `embedded-pe@${at}`, data: part };
  }
};
