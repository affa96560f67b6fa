/**
 * Where simulated audit events go: JSONL to a file (gzip when the name ends in .gz) or any
 * writable stream (stdout), with backpressure — the generator only advances as fast as the
 * output drains.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { AuditEvent } from '../types/audit.ts';

export interface SinkProgress { (events: number, bytes: number, last: AuditEvent): void }

export interface WriteResult { events: number; bytes: number }

/** Writes events as JSON lines. `out` is a path (".gz" → gzip) or a stream left open for the caller. */
export async function writeJsonl(events: Iterable<AuditEvent>, out: string | Writable, onProgress?: SinkProgress): Promise<WriteResult> {
  let stream: Writable;
  let file: Writable | undefined;
  if (typeof out === 'string') {
    file = createWriteStream(out);
    if (out.endsWith('.gz')) {
      const gz = createGzip({ level: 6 });
      gz.pipe(file);
      stream = gz;
    } else stream = file;
  } else stream = out;
  let failed: Error | undefined;
  const onError = (e: Error) => { failed = e; };
  stream.on('error', onError);
  file?.on('error', onError);
  let n = 0; let bytes = 0;
  let batch = '';
  let last: AuditEvent | undefined;
  const flush = async () => {
    if (!batch) return;
    const ok = stream.write(batch);
    batch = '';
    if (!ok) {
      await new Promise<void>((resolve, reject) => {
        const done = (e?: Error) => { stream.off('drain', onDrain); stream.off('error', done); if (e) reject(e); else resolve(); };
        const onDrain = () => done();
        stream.on('drain', onDrain);
        stream.on('error', done);
      });
    }
    if (failed) throw failed;
  };
  for (const ev of events) {
    const line = JSON.stringify(ev) + '\n';
    batch += line;
    bytes += Buffer.byteLength(line);
    n++;
    last = ev;
    if (batch.length >= 256 * 1024) {
      await flush();
      onProgress?.(n, bytes, last);
    }
  }
  await flush();
  if (last) onProgress?.(n, bytes, last);
  if (file) {
    stream.end();
    await once(file, 'finish');
  }
  if (failed) throw failed;
  stream.off('error', onError);
  return { events: n, bytes };
}
