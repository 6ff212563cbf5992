/**
 * An independent MIME reader for tests of code that rewrites mail: Python's `email` package
 * (policy=default) parses the bytes and reports every part's type, file name, defects and,
 * for text parts, the decoded text. A missing python3 fails the test loudly.
 */
import { execFileSync } from "node:child_process";

export interface PyPart {
  type: string;
  filename: string | null;
  defects: string[];
  multipart: boolean;
  /** decoded text of a text/* leaf */
  text?: string;
  /** decoded bytes of a non-text leaf, as latin1 */
  bytes?: string;
  error?: string;
}

const SCRIPT = String.raw`
import sys, json, email, email.policy
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
out = []
for p in msg.walk():
    d = {"type": p.get_content_type(), "filename": p.get_filename(), "multipart": p.is_multipart(),
         "defects": [type(x).__name__ for x in p.defects]}
    if not p.is_multipart():
        try:
            c = p.get_content()
            if isinstance(c, str):
                d["text"] = c
            elif isinstance(c, bytes):
                d["bytes"] = c.decode("latin1")
        except Exception as e:
            d["error"] = repr(e)
    out.append(d)
print(json.dumps(out))
`;

/** Every entity of `mail` in walk order (the message first). */
export function pythonParts(mail: Buffer): PyPart[] {
  const out = execFileSync("python3", ["-c", SCRIPT], { input: mail, maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(out.toString("utf8")) as PyPart[];
}

/** All defects Python found, as "type: Defect" strings ([] for well-formed MIME). */
export function pythonDefects(parts: PyPart[]): string[] {
  return parts.flatMap((p) => p.defects.map((d) => `${p.type}: ${d}`));
}
