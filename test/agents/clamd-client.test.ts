/** The agents' reading of clamd replies: detections, not-scanned names, errors, garbage. */
import { describe, expect, it } from "vitest";
import { isNotScannedName, verdictFromReply } from "../../agents/common/clamd-client.js";
import { decide } from "../../host/policy/actions.js";

const DEFAULTS = { action_av: "scan", action_av_infected: "reject", action_av_notscanned: "accept", action_av_deleted: "accept", av_clean_mode: "none" };

describe("verdictFromReply", () => {
  it("maps OK, FOUND, not-scanned names, ERROR and garbage", () => {
    expect(verdictFromReply("stream: OK").status).toBe("clean");
    const inf = verdictFromReply("stream: Win.Test.EICAR_HDB-1 FOUND");
    expect(inf).toMatchObject({ status: "infected", infected: true, names: ["Win.Test.EICAR_HDB-1"] });
    for (const n of ["Heuristics.Limits.Exceeded.MaxRecursion", "Heuristics.Encrypted.Zip", "Heuristics.Zip.OverlappingFiles"]) {
      expect(isNotScannedName(n)).toBe(true);
      expect(verdictFromReply(`stream: ${n} FOUND`)).toMatchObject({ status: "not_scanned", notScanned: [{ name: n }] });
    }
    expect(verdictFromReply("stream: INSTREAM size limit exceeded. ERROR").status).toBe("error");
    expect(verdictFromReply("INSTREAM size limit exceeded. ERROR").status).toBe("error");
    expect(verdictFromReply("stream: something").status).toBe("error");
    expect(verdictFromReply("").status).toBe("error");
  });

  it("gives verdicts the policy accepts as coherent", () => {
    expect(decide(DEFAULTS, { verdict: verdictFromReply("stream: OK"), cleaned: false }).action).toBe("accept");
    expect(decide(DEFAULTS, { verdict: verdictFromReply("stream: X FOUND"), cleaned: false }).action).toBe("reject");
    expect(decide(DEFAULTS, { verdict: verdictFromReply("stream: Heuristics.Encrypted.Zip FOUND"), cleaned: false }).action).toBe("accept");
    expect(decide(DEFAULTS, { verdict: verdictFromReply("stream: oops ERROR"), cleaned: false }).action).toBe("defer");
  });
});
