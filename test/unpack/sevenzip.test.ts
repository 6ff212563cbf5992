import { describe, expect, it } from "vitest";
import { unpackSevenZip, looksLikeSevenZip, sevenZipFormat } from "../../host/unpack/sevenzip.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

describe("sevenzip quick", () => {
  for (const f of ["clam.7z", "clam.arj", "clam.cab", "clam.chm", "clam-nsis.exe", "clam.sis", "clam_IScab_ext.exe", "clam_IScab_int.exe", "clam_ISmsi_ext.exe", "clam_ISmsi_int.exe", "clam.exe", "clam-upx.exe"]) {
    it(f, async () => {
      const d = testfile(f);
      const ctx = makeCtx();
      let kids: Awaited<ReturnType<typeof collect>> = [];
      let err: unknown = null;
      try { kids = await collect(unpackSevenZip, d, ctx); } catch (e) { err = e; }
      console.log(f, sevenZipFormat(d), kids.map((k) => `${k.name}:${k.data.length}${sha256(k.data) === CLAM_EXE_SHA256 ? "*" : ""}`).join(" "), String(err ?? ""), ctx.heuristics);
    });
  }
});
