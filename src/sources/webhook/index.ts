/**
 * Webhook input for the kube-apiserver audit webhook backend (`--audit-webhook-config-file`):
 * POST of an audit.k8s.io/v1 EventList (JSON, optionally gzip/deflate Content-Encoding).
 * The central HTTP app mounts the router at /webhook/audit.
 *
 * Answers: 200 once every event of the batch is settled downstream (stored in Elasticsearch
 * or dropped on purpose), with `{received, accepted, duplicates, rejected, errors}`: items
 * that are not valid audit events are counted as rejected with their reason (normalize drops
 * them), never as accepted; copies of events received before (a retried batch, the same event
 * twice) are counted as duplicates, not accepted; 503 when the pipeline is saturated, fails the batch, or does not settle it in
 * time — the apiserver retries the batch (duplicates are dropped by normalize); 400 bad JSON,
 * JSON nested deeper than the limit, or not an EventList; 401 bad/missing bearer token;
 * 413 body over the limit (declared, chunked, or once decompressed); 415 unsupported
 * Content-Encoding.
 */
import { isClusterName } from '../../clusters/names.ts';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { validateEvent } from '../../normalize/index.ts';
import express, { type Request, type Response, type Router } from 'express';
import { createAuthenticator, logAuthFailure, type Authenticator, type AuthOptions } from '../../http/auth.ts';
import type { Downstream } from '../../types/pipeline.ts';
import { log as rootLog, type Logger } from '../../util/log.ts';
import { ingestBytes, ingestRecords, ingestRejected, ingestUnitsAcked, ingestUnitsFailed } from '../metrics.ts';
import { UnitReceipt } from '../receipt.ts';

const gunzip = promisify(zlib.gunzip) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;
const inflate = promisify(zlib.inflate) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

export interface WebhookOptions {
  downstream: Downstream;
  /** bearer tokens (or `{ noAuth: true }`); the same as /graphql */
  auth: AuthOptions | Authenticator;
  /** largest body accepted, before and after decompression (default 64 MiB; config maxMessageBytes) */
  maxBodyBytes?: number;
  /** largest decompressed / compressed ratio, checked above 1 MiB decompressed (default 100) */
  maxDecompressionRatio?: number;
  /** deepest JSON nesting accepted (default 100) */
  maxDepth?: number;
  /** answer 503 if the batch is not settled within this many ms (default 30000) */
  settleTimeout?: number;
  logger?: Logger;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly reason: string) { super(message); }
}

/** The ratio bound applies only above this many decompressed bytes. */
const RATIO_FLOOR_BYTES = 1024 * 1024;

/**
 * Reads the body, at most `limit` bytes: chunked bodies have no declared length, so the limit is
 * checked as the bytes arrive. Over it, reading stops (without destroying the socket, so the
 * 413 can still be sent).
 */
function readLimited(req: Request, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const done = (err?: Error) => {
      req.off('data', onData); req.off('end', onEnd); req.off('error', onError); req.off('aborted', onAborted);
      if (err) { req.pause(); reject(err); return; }
      ingestBytes.inc({ source: 'webhook' }, n);
      resolve(Buffer.concat(chunks, n));
    };
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > limit) { ingestBytes.inc({ source: 'webhook' }, n); done(new HttpError(413, `body exceeds the limit of ${limit} bytes`, 'too-large')); return; }
      chunks.push(c);
    };
    const onEnd = () => done();
    const onError = (e: Error) => done(new HttpError(400, `reading the body failed: ${e.message}`, 'bad-request'));
    const onAborted = () => done(new HttpError(400, 'client aborted the request', 'aborted'));
    req.on('data', onData); req.once('end', onEnd); req.once('error', onError); req.once('aborted', onAborted);
  });
}

async function readBody(req: Request, limit: number, maxRatio: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit} bytes`, 'too-large');
  const enc = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (!['identity', '', 'gzip', 'x-gzip', 'deflate'].includes(enc)) throw new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(enc)} (gzip, deflate or none)`, 'unsupported-encoding');
  const raw = await readLimited(req, limit);
  if (enc === 'identity' || enc === '') return raw;
  const byRatio = Math.max(RATIO_FLOOR_BYTES, Math.floor(raw.length * maxRatio));
  const cap = Math.min(limit, byRatio);
  try {
    return await (enc === 'deflate' ? inflate : gunzip)(raw, { maxOutputLength: cap });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw cap === limit
        ? new HttpError(413, `decompressed body exceeds the limit of ${limit} bytes`, 'too-large')
        : new HttpError(413, `body decompresses to more than ${maxRatio} times its ${raw.length} bytes (max-decompression-ratio)`, 'decompression-ratio');
    }
    throw new HttpError(400, `body is not valid ${enc}: ${(e as Error).message}`, 'bad-encoding');
  }
}

/**
 * Deepest nesting of arrays and objects in JSON text, scanning bytes (strings skipped), so
 * a hostile body is refused before JSON.parse builds it. Stops counting past `max`.
 */
export function jsonDepth(b: Uint8Array, max: number): number {
  let depth = 0; let deepest = 0; let inStr = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (inStr) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inStr = false;
      continue;
    }
    if (c === 0x22) inStr = true;
    else if (c === 0x5b || c === 0x7b) { if (++depth > deepest) { deepest = depth; if (deepest > max) return deepest; } }
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** The events of a webhook body: an EventList (what the apiserver sends), an Event, or an array. */
function itemsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (typeof body === 'object' && body !== null) {
    const o = body as Record<string, unknown>;
    if (o.kind === 'EventList') {
      if (!Array.isArray(o.items)) throw new HttpError(400, 'EventList without an items array', 'bad-request');
      return o.items;
    }
    if (o.kind === 'Event') return [o];
  }
  throw new HttpError(400, 'expected an audit.k8s.io/v1 EventList (kind: EventList, items: [...])', 'bad-request');
}

export function createWebhookRouter(opts: WebhookOptions): Router {
  const auth = 'check' in opts.auth ? opts.auth : createAuthenticator(opts.auth);
  const limit = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  const maxRatio = opts.maxDecompressionRatio ?? 100;
  const maxDepth = opts.maxDepth ?? 100;
  const settleTimeout = opts.settleTimeout ?? 30_000;
  const log = (opts.logger ?? rootLog).child({ component: 'webhook' });
  const { downstream } = opts;
  const router = express.Router();

  const refuse = (req: Request, res: Response, e: HttpError, remote: string | undefined) => {
    ingestRejected.inc({ source: 'webhook', reason: e.reason });
    if (e.status === 401) logAuthFailure('/webhook/audit', remote, e.message);
    else log[e.status >= 500 ? 'warn' : 'info'](`audit webhook: ${e.message}`, { status: e.status, reason: e.reason, remote });
    if (res.headersSent) { res.end(); return; }
    if (e.status === 401) res.set('WWW-Authenticate', 'Bearer realm="kontext"');
    if (e.status === 503) res.set('Retry-After', '1');
    if (e.status === 413) {
      // the rest of the body is not read: answer, then close the connection
      res.set('Connection', 'close');
      res.on('finish', () => req.destroy());
    }
    res.status(e.status).json({ error: e.message });
  };

  // /webhook/audit/<cluster> (or ?cluster=<cluster>): one webhook config per cluster's apiserver
  router.post(['/', '/:cluster'], async (req: Request, res: Response) => {
    // captured now: the socket is detached once the request is destroyed
    const remote = req.socket?.remoteAddress;
    try {
      const why = auth.check(req.headers.authorization);
      if (why !== null) throw new HttpError(401, why, 'unauthorized');
      const named = (req.params as { cluster?: string }).cluster ?? req.query.cluster;
      if (named !== undefined && !isClusterName(named)) throw new HttpError(400, 'cluster: not a cluster name (1-63 of A-Z a-z 0-9 . _ -)', 'bad-cluster');
      const cluster = named as string | undefined;
      if (downstream.saturated) throw new HttpError(503, 'pipeline saturated, retry later', 'saturated');
      const raw = await readBody(req, limit, maxRatio);
      const depth = jsonDepth(raw, maxDepth);
      if (depth > maxDepth) throw new HttpError(400, `JSON nested deeper than ${maxDepth} levels (max-depth)`, 'too-deep');
      let body: unknown;
      try { body = JSON.parse(raw.toString('utf8')); } catch (e) { throw new HttpError(400, `invalid JSON: ${(e as Error).message}`, 'bad-json'); }
      const items = itemsOf(body);
      ingestRecords.inc({ source: 'webhook' }, items.length);
      // what normalize will drop as not an event is reported here, not counted as accepted
      const errors: Array<{ index: number; reason: string }> = [];
      let invalid = 0;
      for (let i = 0; i < items.length; i++) {
        const v = validateEvent(items[i]);
        if (!v.ok) { invalid++; if (errors.length < 10) errors.push({ index: i, reason: v.reason }); }
      }
      if (invalid) ingestRejected.inc({ source: 'webhook', reason: 'invalid-event' }, invalid);
      if (items.length === 0) { res.status(200).json({ received: 0, accepted: 0, duplicates: 0, rejected: 0 }); return; }
      const receipt = new UnitReceipt(items.length);
      downstream.push(items, receipt, cluster);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new HttpError(503, `events not stored within ${settleTimeout} ms, retry later`, 'settle-timeout')), settleTimeout); });
      try {
        await Promise.race([receipt.done, timeout]);
      } catch (e) {
        if (e instanceof HttpError) throw e;
        ingestUnitsFailed.inc({ source: 'webhook' });
        throw new HttpError(503, `events could not be stored: ${(e as Error).message}`, 'downstream-failed');
      } finally {
        clearTimeout(timer);
      }
      ingestUnitsAcked.inc({ source: 'webhook' });
      const duplicates = Math.min(receipt.duplicates, items.length - invalid);
      res.status(200).json({ received: items.length, accepted: items.length - invalid - duplicates, duplicates, rejected: invalid, ...(errors.length ? { errors } : {}) });
    } catch (e) {
      if (e instanceof HttpError) { refuse(req, res, e, remote); return; }
      log.error('audit webhook: unexpected error', { error: e as Error });
      if (!res.headersSent) res.status(500).json({ error: 'internal error' });
    }
  });

  router.all(['/', '/:cluster'], (_req, res) => { res.set('Allow', 'POST').status(405).json({ error: 'use POST with an audit.k8s.io/v1 EventList' }); });
  return router;
}
