/** Heuristic verdicts the orchestrator adds on its own (unpackers report theirs through
 *  UnpackCtx.heuristic), and which heuristic names mean "could not be scanned". */
import type { Classification } from "./classify.js";

/** A document-looking extension followed by an executable one: "invoice.pdf.exe". */
const DOUBLE_EXT = /\.(pdf|docx?|xlsx?|pptx?|rtf|txt|jpe?g|png|gif|bmp|zip|rar|html?|csv|odt|mp3|mp4|avi)\s*\.(exe|scr|com|pif|cpl|msi|bat|cmd|vbs|vbe|js|jse|wsf|wsh|hta|lnk|ps1)$/i;
/** Script extensions are dangerous by name alone; binary ones only when the content really
 *  is an executable (a harmless ".pdf.com" text file is not worth a verdict). */
const SCRIPT_EXT = /\.(bat|cmd|vbs|vbe|js|jse|wsf|wsh|hta|lnk|ps1)$/i;

export const DOUBLE_EXTENSION = "Heuristics.Executable.DoubleExtension";

export function doubleExtensionHeuristic(name: string, cls: Classification): string | null {
  if (!DOUBLE_EXT.test(name)) return null;
  if (SCRIPT_EXT.test(name) || cls.executable) return DOUBLE_EXTENSION;
  return null;
}

/** Heuristics that say "this part could not be looked into" rather than "this is bad":
 *  encrypted content, limits, and archives built to defeat unpacking (overlapping members). */
export function heuristicIsNotScanned(name: string): boolean {
  return name.startsWith("Heuristics.Encrypted.") || name.startsWith("Heuristics.Limits.") || name === "Heuristics.Zip.OverlappingFiles";
}
