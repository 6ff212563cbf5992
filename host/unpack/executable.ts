/**
 * Payloads carried by Windows executables, tried in this order:
 * - UPX-packed: the unpacked original (upx.ts);
 * - InstallShield launchers: the files appended after the image (installshield.ts);
 * - anything else 7-Zip finds at an offset inside the file (NSIS, 7z/RAR/ZIP/CAB
 *   self-extractors, sevenzip.ts);
 * then, as ClamAV does for every PE, executables embedded in the file (embedded-pe.ts).
 * A PE with none of these yields nothing: most executables carry no payload.
 */
import { unpackEmbeddedPe } from "./embedded-pe.js";
import { looksLikeInstallShield, unpackInstallShield } from "./installshield.js";
import { unpackSevenZip } from "./sevenzip.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";
import { looksLikeUpx, unpackUpx } from "./upx.js";

export function looksLikePe(data: Uint8Array): boolean {
  return data.length >= 64 && data[0] === 0x4d && data[1] === 0x5a;
}

export const unpackExecutable: Unpacker = async function* (data: Uint8Array, ctx: UnpackCtx): AsyncIterable<Child> {
  if (looksLikeUpx(data)) yield* unpackUpx(data, ctx);
  else if (looksLikeInstallShield(data)) yield* unpackInstallShield(data, ctx);
  else yield* unpackSevenZip(data, ctx);
  yield* unpackEmbeddedPe(data, ctx);
};
