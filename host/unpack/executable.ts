/**
 * Payloads carried by Windows executables: installers and self-extractors append their
 * files after the PE image. InstallShield launchers are read natively (installshield.ts);
 * everything else (NSIS, 7z/RAR/ZIP/CAB self-extractors) goes to 7-Zip,
 * which finds archives at an offset inside the executable. A PE with neither yields
 * nothing: this is not an error, most executables carry no payload.
 */
import { looksLikeInstallShield, unpackInstallShield } from "./installshield.js";
import { unpackSevenZip } from "./sevenzip.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";

export function looksLikePe(data: Uint8Array): boolean {
  return data.length >= 64 && data[0] === 0x4d && data[1] === 0x5a;
}

export const unpackExecutable: Unpacker = async function* (data: Uint8Array, ctx: UnpackCtx): AsyncIterable<Child> {
  if (looksLikeInstallShield(data)) {
    yield* unpackInstallShield(data, ctx);
    return;
  }
  yield* unpackSevenZip(data, ctx);
};
