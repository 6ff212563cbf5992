/**
 * Access to Debian's clamav-testfiles: each wraps the same 544-byte clam.exe, so a
 * child whose sha256 equals CLAM_EXE_SHA256 proves the unpacker reached it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export const TESTFILES_DIR = "/usr/share/clamav-testfiles";
export const CLAM_EXE_SHA256 = "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495";

export function testfile(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${TESTFILES_DIR}/${name}`));
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
