/**
 * File replay (`kontext ingest FILE`): audit logs from disk into the pipeline.
 *
 * Formats: JSON Lines (what the apiserver's log backend writes; a line may also hold an
 * EventList or a log shipper's wrapper), gzip of it (detected by magic bytes, not by name),
 * or one JSON document (an array of events or an EventList, e.g. a saved webhook body).
 * JSON Lines are streamed; a JSON document is read whole (up to `maxDocumentBytes`).
 *
 * Records go downstream in blocks of `blockSize`, each with a receipt; reading pauses while
 * the pipeline is saturated. Bad lines are counted, the first few reported with their line
 * number and reason; replay never stops on them.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { unwrapRecord } from '../../normalize/unwrap.ts';
import { validateEvent } from '../../normalize/validate.ts';
import type { Downstream } from '../../types/pipeline.ts';
import { log as rootLog, type Logger } from '../../util/log.ts';
import { Progress } from '../../util/progress.ts';
import { ingestBytes, ingestPaused, ingestPauses, ingestRecords, ingestRejected, ingestUnitsAcked, ingestUnitsFailed } from '../metrics.ts';
import { UnitReceipt } from '../receipt.ts';

export interface ReplayOptions {
  /** progress bar on stderr (default false) */
  progress?: boolean;
  /** records per block, i.e. per receipt (default 1000) */
  blockSize?: number;
  /** longest line accepted (default 64 MiB) */
  maxLineBytes?: number;
  /** largest single-document JSON file (default 512 MiB) */
  maxDocumentBytes?: number;
  /** bad lines reported with their number (default 10) */
  maxBadLinesReported?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** progress bar stream (tests) */
  progressStream?: NodeJS.WriteStream;
}

/** `line` is the 1-based line number (JSON Lines) or item number (JSON document) */
export interface BadLine { line: number; reason: string }

export interface SettleSummary {
  blocks: number;
  acked: number;
  failed: number;
  /** failed blocks: their line range and the error */
  errors: { firstLine: number; lastLine: number; error: string }[];
}

export interface ReplayResult {
  path: string;
  format: 'jsonl' | 'json';
  compressed: boolean;
  /** bytes read from the file (compressed size for .gz) */
  bytes: number;
  lines: number;
  /** audit events handed downstream */
  records: number;
  badLines: number;
  badLineSamples: BadLine[];
  blocks: number;
  /**
   * Resolves once every block was settled downstream (stored or dropped on purpose). A
   * pipeline holding events in windows settles them only when flushed: flush, then await.
   */
  settled: Promise<SettleSummary>;
}

const GZIP_MAGIC = [0x1f, 0x8b];

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
  } finally {
    await fh.close();
  }
}

class Replayer {
  readonly result: Omit<ReplayResult, 'settled'>;
  private block: unknown[] = [];
  private blockFirstLine = 0;
  private blockLastLine = 0;
  private readonly receipts: { r: UnitReceipt; firstLine: number; lastLine: number }[] = [];
  private readonly blockSize: number;
  private readonly maxBad: number;

  constructor(private readonly downstream: Downstream, private readonly opts: ReplayOptions, private readonly log: Logger, file: string, compressed: boolean) {
    this.blockSize = Math.max(1, opts.blockSize ?? 1000);
    this.maxBad = opts.maxBadLinesReported ?? 10;
    this.result = { path: file, format: 'jsonl', compressed, bytes: 0, lines: 0, records: 0, badLines: 0, badLineSamples: [], blocks: 0 };
  }

  bad(line: number, reason: string): void {
    this.result.badLines++;
    ingestRejected.inc({ source: 'file', reason: 'bad-line' });
    if (this.result.badLineSamples.length < this.maxBad) {
      this.result.badLineSamples.push({ line, reason });
      this.log.warn(`${this.result.path}:${line}: ${reason}`);
    }
  }

  /** one parsed JSON value from `line`: its valid events go into the block, the rest is reported */
  async value(v: unknown, line: number): Promise<void> {
    let firstReason: string | undefined;
    for (const c of unwrapRecord(v)) {
      if ('reject' in c) { firstReason ??= c.reject; continue; }
      const ok = validateEvent(c.event);
      if (!ok.ok) { firstReason ??= ok.reason; continue; }
      if (this.block.length === 0) this.blockFirstLine = line;
      this.blockLastLine = line;
      this.block.push(c.event);
      if (this.block.length >= this.blockSize) await this.flush();
    }
    if (firstReason !== undefined) this.bad(line, firstReason);
  }

  async flush(): Promise<void> {
    if (this.block.length === 0) return;
    const records = this.block;
    this.block = [];
    const receipt = new UnitReceipt(records.length);
    this.receipts.push({ r: receipt, firstLine: this.blockFirstLine, lastLine: this.blockLastLine });
    this.result.records += records.length;
    this.result.blocks++;
    ingestRecords.inc({ source: 'file' }, records.length);
    this.downstream.push(records, receipt);
    if (this.downstream.saturated) {
      ingestPaused.set(1, { source: 'file' });
      ingestPauses.inc({ source: 'file' });
      while (this.downstream.saturated) {
        if (this.opts.signal?.aborted) break;
        await new Promise<void>((r) => this.downstream.onDrain(r));
      }
      ingestPaused.set(0, { source: 'file' });
    }
  }

  settled(): Promise<SettleSummary> {
    const all = this.receipts.slice();
    return Promise.allSettled(all.map((x) => x.r.done)).then((rs) => {
      const s: SettleSummary = { blocks: all.length, acked: 0, failed: 0, errors: [] };
      rs.forEach((r, i) => {
        if (r.status === 'fulfilled') { s.acked++; ingestUnitsAcked.inc({ source: 'file' }); return; }
        s.failed++;
        ingestUnitsFailed.inc({ source: 'file' });
        s.errors.push({ firstLine: all[i]!.firstLine, lastLine: all[i]!.lastLine, error: (r.reason as Error)?.message ?? String(r.reason) });
      });
      return s;
    });
  }
}

/**
 * Replays one file into `downstream`. Resolves when the whole file was read and pushed;
 * `result.settled` resolves when the pipeline has settled every block.
 * Throws (clear message) when the file cannot be read or a JSON document is invalid.
 */
export async function replayFile(file: string, downstream: Downstream, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const log = (opts.logger ?? rootLog).child({ component: 'replay' });
  const st = await stat(file);
  if (!st.isFile()) throw new Error(`${file}: not a regular file`);
  const compressed = await isGzip(file);
  const rp = new Replayer(downstream, opts, log, file, compressed);
  const res = rp.result;
  const maxLine = opts.maxLineBytes ?? 64 * 1024 * 1024;
  const maxDoc = opts.maxDocumentBytes ?? 512 * 1024 * 1024;
  const progress = opts.progress ? new Progress({ label: `ingest ${path.basename(file)}`, total: st.size, unit: 'bytes', stream: opts.progressStream }) : undefined;
  const extra = () => `${res.records} events${res.badLines ? `, ${res.badLines} bad lines` : ''}`;

  const counting = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      res.bytes += chunk.length;
      ingestBytes.inc({ source: 'file' }, chunk.length);
      progress?.update(res.bytes, extra());
      cb(null, chunk);
    },
  });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const done = compressed ? pipeline(raw, counting, zlib.createGunzip(), out) : pipeline(raw, counting, out);
  done.catch(() => {}); // surfaced through `out`

  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let skipping = false;
  let mode = 'unknown' as 'unknown' | 'jsonl' | 'json';
  let doc: Buffer[] = [];
  let docBytes = 0;

  const isDoc = () => mode === 'json';
  /** one complete line; returns true when it opens a JSON document (not JSON Lines) */
  const onLine = async (buf: Buffer): Promise<boolean> => {
    res.lines++;
    const lineNo = res.lines;
    if (buf.length > maxLine) { rp.bad(lineNo, `line longer than ${maxLine} bytes`); return false; }
    const text = buf.toString('utf8').trim();
    if (text === '') return false;
    if (mode === 'unknown') {
      if (text.startsWith('[') || text === '{') { mode = 'json'; return true; }
      mode = 'jsonl';
    }
    let v: unknown;
    try { v = JSON.parse(text); } catch (e) { rp.bad(lineNo, `invalid JSON: ${(e as Error).message}`); return false; }
    await rp.value(v, lineNo);
    return false;
  };

  try {
    for await (const chunk of out as AsyncIterable<Buffer>) {
      if (opts.signal?.aborted) throw new Error('replay aborted');
      if (mode === 'json') {
        docBytes += chunk.length;
        if (docBytes > maxDoc) throw new Error(`${file}: JSON document larger than ${maxDoc} bytes; use JSON Lines (one event per line) for large files`);
        doc.push(chunk);
        continue;
      }
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, from);
        if (nl < 0) break;
        const part = chunk.subarray(from, nl);
        from = nl + 1;
        if (skipping) { skipping = false; res.lines++; rp.bad(res.lines, `line longer than ${maxLine} bytes`); pieces = []; pieceBytes = 0; continue; }
        const line = pieces.length ? Buffer.concat([...pieces, part]) : part;
        pieces = []; pieceBytes = 0;
        if (await onLine(line)) {
          // a JSON document, not JSON Lines: keep everything from its first line on
          doc = [line, Buffer.from('\n'), chunk.subarray(from)];
          docBytes = doc.reduce((n, b) => n + b.length, 0);
          break;
        }
      }
      if (isDoc() || from >= chunk.length) continue;
      const rest = chunk.subarray(from);
      if (skipping) continue;
      pieceBytes += rest.length;
      if (pieceBytes > maxLine) { skipping = true; pieces = []; pieceBytes = 0; continue; }
      pieces.push(Buffer.from(rest)); // copy: the stream may reuse its chunk
    }
    if (!isDoc()) {
      if (skipping) { res.lines++; rp.bad(res.lines, `line longer than ${maxLine} bytes`); }
      else if (pieceBytes > 0 || pieces.length) {
        const last = Buffer.concat(pieces);
        if (await onLine(last)) { doc = [last]; docBytes = last.length; }
      }
    }
    if (isDoc()) {
      res.format = 'json';
      const text = Buffer.concat(doc).toString('utf8');
      let v: unknown;
      try { v = JSON.parse(text); } catch (e) {
        throw new Error(`${file}: neither JSON Lines nor a valid JSON document: ${(e as Error).message}`);
      }
      const items = Array.isArray(v) ? v
        : typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'EventList' && Array.isArray((v as { items?: unknown }).items) ? (v as { items: unknown[] }).items
          : [v];
      for (let i = 0; i < items.length; i++) await rp.value(items[i], i + 1);
    }
    await rp.flush();
    await done;
  } catch (e) {
    raw.destroy();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(err.message)) {
      // a truncated .gz (still being written, or cut): keep what was read, report it
      await rp.flush();
      rp.bad(res.lines + 1, `gzip stream ends early or is corrupt (${err.message}); events before this point were replayed`);
    } else {
      progress?.finish(extra());
      throw err;
    }
  }
  progress?.finish(extra());
  log.info(`replayed ${file}`, { format: res.format, compressed, bytes: res.bytes, lines: res.lines, events: res.records, badLines: res.badLines, blocks: res.blocks });
  return { ...res, settled: rp.settled() };
}
