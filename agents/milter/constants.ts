/**
 * Sendmail milter protocol constants, named exactly as libmilter names them (mfdef.h / mfapi.h,
 * sendmail 8.17), so a reader can grep the C headers for any of them.
 * Command and reply codes are single ASCII characters on the wire; they are kept here as
 * one-character strings.
 */

/** Protocol version this codec speaks (mfdef.h SMFI_PROT_VERSION). */
export const SMFI_PROT_VERSION = 6;
/** Size of the big-endian length prefix of every packet (mfdef.h MILTER_LEN_BYTES). */
export const MILTER_LEN_BYTES = 4;
/** OPTNEG payload: version, actions, protocol, each a u32 (mfdef.h MILTER_OPTLEN). */
export const MILTER_OPTLEN = MILTER_LEN_BYTES * 3;
/**
 * Largest BODY chunk an MTA sends and largest REPLBODY chunk we send (mfdef.h MILTER_CHUNK_SIZE,
 * 65535). Postfix milter8.c and Sendmail milter.c both cut the body at this size.
 */
export const MILTER_CHUNK_SIZE = 65535;
/**
 * Default limit on the data bytes of one packet (mfdef.h MILTER_MAX_DATA_SIZE, 65535): libmilter
 * refuses a longer packet unless a larger size was negotiated with SMFIP_MDS_256K / SMFIP_MDS_1M.
 * An MTA that was not offered a larger size never sends more, so anything longer is a broken or
 * hostile peer, and buffering it would let the peer make us allocate up to 4 GiB per packet.
 */
export const MILTER_MAX_DATA_SIZE = 65535;
/** Data limits selected by SMFIP_MDS_256K and SMFIP_MDS_1M (mfdef.h MILTER_MDS_256K / _1M). */
export const MILTER_MDS_256K = 256 * 1024 - 1;
export const MILTER_MDS_1M = 1024 * 1024 - 1;

// Address families in SMFIC_CONNECT (mfdef.h SMFIA_*).
export const SMFIA_UNKNOWN = "U";
export const SMFIA_UNIX = "L";
export const SMFIA_INET = "4";
export const SMFIA_INET6 = "6";

// Commands, MTA -> milter (mfdef.h SMFIC_*).
export const SMFIC_ABORT = "A";
export const SMFIC_BODY = "B";
export const SMFIC_CONNECT = "C";
export const SMFIC_MACRO = "D";
export const SMFIC_BODYEOB = "E";
export const SMFIC_HELO = "H";
export const SMFIC_QUIT_NC = "K";
export const SMFIC_HEADER = "L";
export const SMFIC_MAIL = "M";
export const SMFIC_EOH = "N";
export const SMFIC_OPTNEG = "O";
export const SMFIC_QUIT = "Q";
export const SMFIC_RCPT = "R";
export const SMFIC_DATA = "T";
export const SMFIC_UNKNOWN = "U";

// Replies, milter -> MTA (mfdef.h SMFIR_*).
export const SMFIR_ADDRCPT = "+";
export const SMFIR_DELRCPT = "-";
export const SMFIR_ADDRCPT_PAR = "2";
export const SMFIR_SHUTDOWN = "4";
export const SMFIR_ACCEPT = "a";
export const SMFIR_REPLBODY = "b";
export const SMFIR_CONTINUE = "c";
export const SMFIR_DISCARD = "d";
export const SMFIR_CHGFROM = "e";
export const SMFIR_CONN_FAIL = "f";
export const SMFIR_ADDHEADER = "h";
export const SMFIR_INSHEADER = "i";
export const SMFIR_SETSYMLIST = "l";
export const SMFIR_CHGHEADER = "m";
export const SMFIR_PROGRESS = "p";
export const SMFIR_QUARANTINE = "q";
export const SMFIR_REJECT = "r";
export const SMFIR_SKIP = "s";
export const SMFIR_TEMPFAIL = "t";
export const SMFIR_REPLYCODE = "y";

// Actions the milter asks for in OPTNEG (mfapi.h SMFIF_*).
export const SMFIF_NONE = 0x000;
export const SMFIF_ADDHDRS = 0x001;
export const SMFIF_CHGBODY = 0x002;
export const SMFIF_ADDRCPT = 0x004;
export const SMFIF_DELRCPT = 0x008;
export const SMFIF_CHGHDRS = 0x010;
export const SMFIF_QUARANTINE = 0x020;
export const SMFIF_CHGFROM = 0x040;
export const SMFIF_ADDRCPT_PAR = 0x080;
export const SMFIF_SETSYMLIST = 0x100;

// Protocol steps the milter does not want / replies it will not send (mfdef.h SMFIP_*).
export const SMFIP_NOCONNECT = 0x1;
export const SMFIP_NOHELO = 0x2;
export const SMFIP_NOMAIL = 0x4;
export const SMFIP_NORCPT = 0x8;
export const SMFIP_NOBODY = 0x10;
export const SMFIP_NOHDRS = 0x20;
export const SMFIP_NOEOH = 0x40;
export const SMFIP_NR_HDR = 0x80;
export const SMFIP_NOUNKNOWN = 0x100;
export const SMFIP_NODATA = 0x200;
export const SMFIP_SKIP = 0x400;
export const SMFIP_RCPT_REJ = 0x800;
export const SMFIP_NR_CONN = 0x1000;
export const SMFIP_NR_HELO = 0x2000;
export const SMFIP_NR_MAIL = 0x4000;
export const SMFIP_NR_RCPT = 0x8000;
export const SMFIP_NR_DATA = 0x10000;
export const SMFIP_NR_UNKN = 0x20000;
export const SMFIP_NR_EOH = 0x40000;
export const SMFIP_NR_BODY = 0x80000;
export const SMFIP_HDR_LEADSPC = 0x100000;
export const SMFIP_MDS_256K = 0x10000000;
export const SMFIP_MDS_1M = 0x20000000;

// Protocol stages for the macro lists appended to the OPTNEG reply (mfapi.h SMFIM_*).
export const SMFIM_CONNECT = 0;
export const SMFIM_HELO = 1;
export const SMFIM_ENVFROM = 2;
export const SMFIM_ENVRCPT = 3;
export const SMFIM_DATA = 4;
export const SMFIM_EOM = 5;
export const SMFIM_EOH = 6;
