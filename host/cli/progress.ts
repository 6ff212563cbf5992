/**
 * A one-line progress bar on stderr for long scans: files done / total, bytes, rate.
 * Only used when stderr is a TTY and --quiet is off; it appears after SHOW_AFTER_MS so
 * short scans never flicker, is redrawn every REDRAW_MS, and is erased before any result
 * line and before the summary so it never mixes with real output.
 */

/** Scans shorter than this never show a bar: a bar that flashes for 200 ms is noise. */
const SHOW_AFTER_MS = 1000;
/** Redraw period: 5 Hz reads as smooth and costs nothing next to scanning. */
const REDRAW_MS = 200;
const BAR_WIDTH = 24;

function human(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export class Progress {
  private filesDone = 0;
  private bytesDone = 0;
  private totalFiles: number | null = null;
  private totalBytes: number | null = null;
  private drawn = false;
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly out: NodeJS.WriteStream) {}

  start(): void {
    this.timer = setInterval(() => {
      if (Date.now() - this.started >= SHOW_AFTER_MS) this.draw();
    }, REDRAW_MS);
    this.timer.unref(); // never keep the process alive for a progress bar
  }

  setTotals(files: number, bytes: number): void {
    this.totalFiles = files;
    this.totalBytes = bytes;
  }

  fileDone(bytes: number): void {
    this.filesDone++;
    this.bytesDone += bytes;
  }

  /** Erase the bar (if drawn) so the next write starts on a clean line. */
  clear(): void {
    if (!this.drawn) return;
    this.out.write("\r\x1b[K");
    this.drawn = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  private draw(): void {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? this.bytesDone / secs : 0;
    const frac = this.totalBytes ? Math.min(1, this.bytesDone / this.totalBytes) : this.totalFiles ? Math.min(1, this.filesDone / this.totalFiles) : 0;
    const filled = Math.round(frac * BAR_WIDTH);
    const bar = this.totalFiles === null ? "?".repeat(BAR_WIDTH) : "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
    const files = `${this.filesDone}/${this.totalFiles ?? "?"} files`;
    const bytes = `${human(this.bytesDone)}/${this.totalBytes === null ? "?" : human(this.totalBytes)}`;
    let line = `[${bar}] ${files}  ${bytes}  ${human(rate)}/s`;
    const cols = this.out.columns || 80; // 0 or undefined when the terminal size is unknown
    if (line.length > cols - 1) line = line.slice(0, Math.max(0, cols - 1));
    this.out.write(`\r\x1b[K${line}`);
    this.drawn = true;
  }
}
