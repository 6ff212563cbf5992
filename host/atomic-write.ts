/**
 * Replacing a file atomically: a reader sees either the old file or the new one, never half
 * of each, and a crash leaves the old file intact. Recipe: temp file in the same directory
 * (same file system, so rename is atomic), fsync it, rename over the target, fsync the
 * directory so the rename itself survives a power loss (the step write-file-atomic omits).
 * Used for the configuration file and the compiled-database cache.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** Mode for a new file: a configuration holds passwords, so only the owner may read it. */
const NEW_FILE_MODE = 0o600;

export function writeFileAtomic(file: string, text: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  let mode = NEW_FILE_MODE;
  try {
    mode = fs.statSync(file).mode & 0o7777; // keep the administrator's permissions
  } catch {
    /* new file */
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = fs.openSync(tmp, "wx", mode);
  try {
    fs.fchmodSync(fd, mode); // open()'s mode is filtered by the umask; the file's must not be
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
