// Byte offsets of the compiled-database records. Mirrored in host/engine/layout.ts:
// the host writes these records, the core reads them. Change both together.

export const NONE: u32 = 0xffffffff;

/** SID.FLAGS bit: every match counts (a logical-signature subsig), not only the first */
export const SIDF_COUNTS: u32 = 1;

export const FLAG_DEFER_OVERFLOW: u32 = 1;
export const FLAG_VERIFY_BUDGET: u32 = 2;
export const FLAG_OUT_OVERFLOW: u32 = 4;

export namespace DB {
  export const MAGIC: usize = 0;
  export const VERSION: usize = 4;
  export const NTABLES: usize = 8;
  export const TABLES: usize = 12;
  export const PATTERNS: usize = 16;
  export const NPATTERNS: usize = 20;
  export const SIDS: usize = 24;
  export const NSIDS: usize = 28;
  export const NSLOTS: usize = 32;
}

export namespace TBL {
  export const G: usize = 0;
  export const S: usize = 4;
  export const BITS: usize = 8;
  export const BITMAP: usize = 12;
  export const BSHIFT: usize = 16;
  export const HEADS: usize = 20;
  export const ENTRIES: usize = 24;
  export const NENT: usize = 28;
  export const GMASK: usize = 32;
  export const BITMAP2: usize = 40;
  export const SIZE: usize = 48;
}

export namespace PAT {
  export const SID: usize = 0;
  export const SLOT: usize = 4;
  export const PART: usize = 8;
  export const NPARTS: usize = 12;
  export const GAPPREV: usize = 16;
  export const NSEG: usize = 20;
  export const ANCHORSEG: usize = 24;
  export const SEGS: usize = 28;
  export const OFFKIND: usize = 32;
  export const OFFA: usize = 36;
  export const OFFB: usize = 40;
  export const SIZE: usize = 48;
}

export namespace SEG {
  export const LEN: usize = 0;
  export const GAPMIN: usize = 4;
  export const GAPMAX: usize = 8;
  export const BYTES: usize = 12;
  export const MASKS: usize = 16;
  export const NCHECKS: usize = 20;
  export const CHECKS: usize = 24;
  export const SIZE: usize = 32;
}

export namespace CHK {
  export const KIND: usize = 0;
  export const AT: usize = 4;
  export const DATA: usize = 8;
  export const LEN: usize = 12;
  export const SIZE: usize = 16;
}

export namespace SID {
  export const SLOTBASE: usize = 0;
  export const NSLOTS: usize = 4;
  export const TARGET: usize = 8;
  export const FLAGS: usize = 12;
  export const SIZE: usize = 16;
}
