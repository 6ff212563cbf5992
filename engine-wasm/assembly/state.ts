// Per-instance state of the scanning core (wasm globals are per instance): where the
// database and this instance's private arrays are, and the object being scanned. Set by
// index.ts (init, initState, scanPart); read and updated by probes.ts and verify.ts.

// ---- per-instance globals (set by init / initState; wasm globals are per instance) ----
export let dbBase: usize = 0;
export let nTables: u32 = 0;
export let tablesPtr: usize = 0;
export let patsPtr: usize = 0;
export let sidsPtr: usize = 0;
export let nSids: u32 = 0;

export let sidGen: usize = 0; // u32[nSids]
export let sidCount: usize = 0; // u32[nSids]
export let sidLast: usize = 0; // u32[nSids]: anchor position of the last counted match
export let slotE: usize = 0; // u32[nSlots]: earliest end of a valid chain through that part
export let outPtr: usize = 0; // u32[outCap]: sids matched for the first time in this scan
export let outCap: u32 = 0;
export let outLen: u32 = 0;
export let defPtr: usize = 0; // (u32 pid, start, end, anchor position)[defCap]
export let defCap: u32 = 0;
export let defLen: u32 = 0;

export let gen: u32 = 0;
export let flags: u32 = 0;
export let budget: i32 = 0;
// Absolute addressing: byte p of the object (0 <= p < fileLen) is at curData + p. In a
// whole-object scan all of it is there; in a chunked scan only [winLo, curLen) is, and the
// host sizes each window so verification never needs bytes outside it (meta chunk overlap).
export let curData: usize = 0;
export let curLen: u32 = 0; // end of the bytes present (absolute)
export let winLo: u32 = 0; // start of the bytes present (absolute)
export let fileLen: u32 = 0; // size of the whole object: EOF offsets and file-edge rules
export let probeFrom: u32 = 0; // this call probes anchor positions in [probeFrom, probeTo)
export let probeTo: u32 = 0;
export let curType: u32 = 0;

// Bound on segment comparisons spent verifying one candidate. A signature with several
// wide `{n-m}` gaps inside one part could otherwise cost (gap width)^k per candidate;
// 1<<16 comparisons is far above what any real signature needs (one or two gaps of <= 1k).
export const VERIFY_BUDGET: i32 = 1 << 16;
// Fixpoint rounds over deferred parts: one round resolves at least one more link of a
// chain, and ClamAV-format signatures have at most 64 subsigs with a few parts each.
export const MAX_DEFER_ROUNDS: u32 = 256;
