/**
 * Byte offsets of the compiled-database records: the host-side mirror of
 * engine-wasm/assembly/layout.ts. The compiler (compile.ts) writes these records, the WASM
 * core reads them. Change both files together; DB_VERSION invalidates old caches.
 */
export const DB_MAGIC = 0x4b575642; // "BVWK" little-endian
export const DB_VERSION = 1;
export const NONE = 0xffffffff;

export const FLAG_DEFER_OVERFLOW = 1;
export const FLAG_VERIFY_BUDGET = 2;
export const FLAG_OUT_OVERFLOW = 4;

export const DB = {
  MAGIC: 0, VERSION: 4, NTABLES: 8, TABLES: 12, PATTERNS: 16, NPATTERNS: 20,
  SIDS: 24, NSIDS: 28, NSLOTS: 32,
  // host-only: where the JSON metadata and the hash tables are
  META: 36, METALEN: 40, HEADER_SIZE: 64,
} as const;

export const TBL = { G: 0, S: 4, BITS: 8, BITMAP: 12, BSHIFT: 16, HEADS: 20, ENTRIES: 24, NENT: 28, GMASK: 32, BITMAP2: 40, SIZE: 48 } as const;
export const PAT = { SID: 0, SLOT: 4, PART: 8, NPARTS: 12, GAPPREV: 16, NSEG: 20, ANCHORSEG: 24, SEGS: 28, OFFKIND: 32, OFFA: 36, OFFB: 40, SIZE: 48 } as const;
export const SEG = { LEN: 0, GAPMIN: 4, GAPMAX: 8, BYTES: 12, MASKS: 16, NCHECKS: 20, CHECKS: 24, SIZE: 32 } as const;
export const CHK = { KIND: 0, AT: 4, DATA: 8, LEN: 12, SIZE: 16 } as const;
export const SID = { SLOTBASE: 0, NSLOTS: 4, TARGET: 8, FLAGS: 12, SIZE: 16 } as const;
/** SID.FLAGS bit: every match counts (a logical-signature subsig), not only the first */
export const SIDF_COUNTS = 1;

export const CHECK_KIND = { set: 1, notstr: 2, B: 3, L: 4, W: 5, near: 6 } as const;
/** CHK.LEN bits of boundary checks (B/L/W) */
export const CHKF_RIGHT = 1;
export const CHKF_NEG = 2;
export const GRAM_ENTRY_SIZE = 16;
