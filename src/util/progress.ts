/**
 * Progress bar for long CLI work, on stderr. Redraws at most 10 times a second on a TTY;
 * off a TTY (CI, pipes) prints a plain line every `plainEvery` ms so logs stay readable.
 */
export interface ProgressOptions { label: string; total?: number; unit?: string; stream?: NodeJS.WriteStream; plainEvery?: number }

export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private extra = '';
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY) && !process.env.CI;
  }
  setTotal(total: number): void { this.opts.total = total; }
  tick(n = 1, extra?: string): void {
    this.done += n;
    if (extra !== undefined) this.extra = extra;
    const now = Date.now();
    if (now - this.lastDraw >= (this.tty ? 100 : (this.opts.plainEvery ?? 5000))) { this.lastDraw = now; this.draw(false); }
  }
  update(done: number, extra?: string): void { this.tick(done - this.done, extra); }
  finish(extra?: string): void { if (extra !== undefined) this.extra = extra; this.draw(true); }
  private draw(final: boolean): void {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const unit = this.opts.unit ?? 'items';
    const { total } = this.opts;
    let bar = '';
    if (total && total > 0) {
      const frac = Math.min(1, this.done / total);
      const w = 28;
      const fill = Math.round(frac * w);
      const eta = rate > 0 ? (total - this.done) / rate : 0;
      bar = `[${'#'.repeat(fill)}${'-'.repeat(w - fill)}] ${(frac * 100).toFixed(1)}% ${fmt(this.done)}/${fmt(total)} ${unit}${final ? '' : ` eta ${eta.toFixed(0)}s`}`;
    } else bar = `${fmt(this.done)} ${unit}`;
    const line = `${this.opts.label} ${bar} ${fmt(rate)}/s ${secs.toFixed(1)}s${this.extra ? ' ' + this.extra : ''}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else this.stream.write(line + '\n');
  }
}

function fmt(n: number): string {
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
