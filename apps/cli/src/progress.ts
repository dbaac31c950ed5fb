/**
 * A one-line progress bar with rate and ETA, drawn on stderr only when stderr
 * is a terminal: stdout stays clean for data, and logs stay clean of bars.
 */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private readonly enabled: boolean;
  /** Where the first update found the work: a resumed run starts part-way, and only what it did since tells its pace. */
  private startFraction?: number;

  /**
   * `data`: where the command writes its data, when not to a file. If that is
   * the same terminal (a replay to stdout, read on screen), no bar is drawn:
   * it would be drawn into the middle of the data's lines.
   */
  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    data?: NodeJS.WritableStream,
  ) {
    this.enabled = Boolean(stream.isTTY) && !(data as Partial<NodeJS.WriteStream> | undefined)?.isTTY;
  }

  /** `fraction` in [0, 1] when the total is known. */
  update(done: number, fraction?: number): void {
    if (!this.enabled) return;
    if (fraction !== undefined && this.startFraction === undefined) this.startFraction = Math.min(Math.max(fraction, 0), 1);
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = done / seconds;
    let line = `${this.label} ${done.toLocaleString('en-US')} events, ${formatRate(rate)}/s`;
    if (fraction !== undefined && fraction > 0) {
      const clamped = Math.min(Math.max(fraction, 0), 1);
      const width = 30;
      const filled = Math.round(clamped * width);
      const gained = clamped - (this.startFraction ?? 0);
      const eta = gained > 0 ? (seconds / gained) * (1 - clamped) : Infinity;
      line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(clamped * 100).toFixed(1)}% ${done.toLocaleString('en-US')} events, ${formatRate(rate)}/s, ETA ${formatSeconds(eta)}`;
    }
    this.stream.write(`\r${line}\u001b[K`);
  }

  done(): void {
    if (this.enabled) this.stream.write('\n');
  }
}

function formatRate(rate: number): string {
  return rate >= 1000 ? `${(rate / 1000).toFixed(1)}k` : rate.toFixed(0);
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  // Rounded up, but not for the last bits of floating point: 40.000000001 s is 40 s.
  seconds = Math.ceil(seconds - 1e-6);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}
