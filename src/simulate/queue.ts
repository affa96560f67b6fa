/** Binary min-heap keyed by (time, seq): pending scheduled audit records in log order. */
export class TimeQueue<T> {
  private keys: number[] = [];
  private seqs: number[] = [];
  private vals: T[] = [];
  private seq = 0;

  get size(): number { return this.vals.length; }
  peekTime(): number { return this.vals.length ? this.keys[0]! : Infinity; }

  push(time: number, v: T): void {
    let i = this.vals.length;
    this.keys.push(time); this.seqs.push(this.seq++); this.vals.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p); i = p;
    }
  }

  pop(): T | undefined {
    const n = this.vals.length;
    if (!n) return undefined;
    const top = this.vals[0]!;
    this.swap(0, n - 1);
    this.keys.pop(); this.seqs.pop(); this.vals.pop();
    let i = 0;
    const m = n - 1;
    for (;;) {
      const l = 2 * i + 1; const r = l + 1;
      let s = i;
      if (l < m && this.less(l, s)) s = l;
      if (r < m && this.less(r, s)) s = r;
      if (s === i) break;
      this.swap(i, s); i = s;
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    const a = this.keys[i]!; const b = this.keys[j]!;
    return a < b || (a === b && this.seqs[i]! < this.seqs[j]!);
  }
  private swap(i: number, j: number): void {
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
    [this.seqs[i], this.seqs[j]] = [this.seqs[j]!, this.seqs[i]!];
    [this.vals[i], this.vals[j]] = [this.vals[j]!, this.vals[i]!];
  }
}
