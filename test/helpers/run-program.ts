/** Run a peer program (clamdscan, spamc ...) with `input` on stdin; its exit code and output. */
import { spawn } from "node:child_process";

export interface ProgramRun {
  code: number | null;
  out: string;
  err: string;
}

export function runProgram(bin: string, args: string[], input?: Uint8Array): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
    // a program that exits before reading all of stdin must not fail the test with EPIPE
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}
