/**
 * Expands the PATH arguments of `bulwark scan` into an ordered stream of entries, with
 * clamscan's rules (checked against clamscan 1.4.6 on this machine):
 *  - a directory on the command line is always entered; without -r only its direct
 *    regular files are scanned and its subdirectories are skipped silently;
 *  - symbolic links given on the command line are followed; links met inside a directory
 *    are not followed and are reported as "path: Symbolic link";
 *  - FIFOs, sockets and devices met inside a directory are skipped silently; given on the
 *    command line they are an error ("Not supported file type");
 *  - "-" means standard input.
 * Unlike clamscan (readdir order), entries are sorted by name so output is stable.
 * The walk is lazy (an async generator driven by the scanner's pace) and keeps one
 * sorted listing per open directory level, so memory is bounded by tree depth × width.
 */
import { lstat, readdir, stat } from "node:fs/promises";

export type WalkEntry =
  | { kind: "file"; path: string; size: number }
  | { kind: "stdin"; path: "stdin" }
  | { kind: "dir"; path: string }
  | { kind: "skip"; path: string; reason: string }
  | { kind: "error"; path: string; reason: string };

/** Human text for the errno codes a walk meets; other codes fall back to the message. */
function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOENT":
      return "No such file or directory";
    case "EACCES":
    case "EPERM":
      return "Permission denied";
    case "ENOTDIR":
      return "Not a directory";
    case "ELOOP":
      return "Too many levels of symbolic links";
    default:
      return e?.message ?? String(err);
  }
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** Strip trailing slashes like clamscan ("d/" prints as "d/x"), but keep "/" itself. */
export function displayArg(arg: string): string {
  const trimmed = arg.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}

interface OpenDir {
  path: string;
  names: { name: string; type: "file" | "dir" | "link" | "other" }[];
  next: number;
}

async function listDir(path: string): Promise<OpenDir> {
  const dirents = await readdir(path, { withFileTypes: true });
  const names = dirents.map((d) => ({
    name: d.name,
    type: d.isSymbolicLink() ? ("link" as const) : d.isDirectory() ? ("dir" as const) : d.isFile() ? ("file" as const) : ("other" as const),
  }));
  // Byte-order sort (not locale) so the order is the same on every machine.
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { path, names, next: 0 };
}

/** Walk one directory given on the command line (already known to be a directory). */
async function* walkDir(root: string, recursive: boolean): AsyncGenerator<WalkEntry> {
  let first: OpenDir;
  try {
    first = await listDir(root);
  } catch (err) {
    yield { kind: "error", path: root, reason: `Can't open directory (${reasonOf(err)})` };
    return;
  }
  yield { kind: "dir", path: root };
  // Explicit stack instead of recursion: depth is bounded only by PATH_MAX, and nested
  // `yield*` delegation would cost O(depth) per entry.
  const stack: OpenDir[] = [first];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next >= top.names.length) {
      stack.pop();
      continue;
    }
    const { name, type } = top.names[top.next++];
    const path = joinPath(top.path, name);
    if (type === "link") {
      yield { kind: "skip", path, reason: "Symbolic link" };
    } else if (type === "file") {
      try {
        const st = await lstat(path);
        yield { kind: "file", path, size: st.size };
      } catch (err) {
        yield { kind: "error", path, reason: reasonOf(err) };
      }
    } else if (type === "dir" && recursive) {
      try {
        const sub = await listDir(path);
        yield { kind: "dir", path };
        stack.push(sub);
      } catch (err) {
        yield { kind: "error", path, reason: `Can't open directory (${reasonOf(err)})` };
      }
    }
    // type "other" (FIFO, socket, device) and non-recursive subdirectories: skipped silently.
  }
}

/** All entries for the PATH arguments, in command-line order then walk order. */
export async function* walkInputs(args: readonly string[], recursive: boolean): AsyncGenerator<WalkEntry> {
  for (const arg of args) {
    if (arg === "-") {
      yield { kind: "stdin", path: "stdin" };
      continue;
    }
    const path = displayArg(arg);
    let st;
    try {
      st = await stat(path); // follows a symlink given directly, like clamscan's default
    } catch (err) {
      yield { kind: "error", path, reason: reasonOf(err) };
      continue;
    }
    if (st.isFile()) yield { kind: "file", path, size: st.size };
    else if (st.isDirectory()) yield* walkDir(path, recursive);
    else yield { kind: "error", path, reason: "Not supported file type" };
  }
}

/** Count what a walk will produce (files and bytes), for the progress bar's totals. */
export async function countInputs(args: readonly string[], recursive: boolean): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const e of walkInputs(args, recursive)) {
    if (e.kind === "file") {
      files++;
      bytes += e.size;
    } else if (e.kind === "stdin") files++;
  }
  return { files, bytes };
}
