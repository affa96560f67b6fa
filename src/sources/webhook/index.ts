/**
 * Webhook input for the kube-apiserver audit webhook backend (`--audit-webhook-config-file`):
 * POST of an audit.k8s.io/v1 EventList (JSON, optionally gzip/deflate Content-Encoding).
 * The central HTTP app mounts the router at /webhook/audit.
 *
 * Answers: 200 once every event of the batch is settled downstream (stored in Elasticsearch
 * or dropped on purpose); 503 when the pipeline is saturated, fails the batch, or does not
 * settle it in time — the apiserver retries the batch (duplicates are dropped by normalize);
 * 400 bad JSON or not an EventList; 401 bad/missing bearer token; 413 body over the limit;
 * 415 unsupported Content-Encoding.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import express, { type Request, type Response, type Router } from 'express';
import { createAuthenticator, type Authenticator, type AuthOptions } from '../../http/auth.ts';
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
  /** answer 503 if the batch is not settled within this many ms (default 30000) */
  settleTimeout?: number;
  logger?: Logger;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly reason: string) { super(message); }
}

async function readBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit} bytes`, 'too-large');
  const enc = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (!['identity', '', 'gzip', 'x-gzip', 'deflate'].includes(enc)) throw new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(enc)} (gzip, deflate or none)`, 'unsupported-encoding');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new HttpError(413, `body exceeds the limit of ${limit} bytes`, 'too-large');
    chunks.push(c);
  }
  ingestBytes.inc({ source: 'webhook' }, n);
  const raw = Buffer.concat(chunks, n);
  if (enc === 'identity' || enc === '') return raw;
  try {
    return await (enc === 'deflate' ? inflate : gunzip)(raw, { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new HttpError(413, `decompressed body exceeds the limit of ${limit} bytes`, 'too-large');
    throw new HttpError(400, `body is not valid ${enc}: ${(e as Error).message}`, 'bad-encoding');
  }
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
  const settleTimeout = opts.settleTimeout ?? 30_000;
  const log = (opts.logger ?? rootLog).child({ component: 'webhook' });
  const { downstream } = opts;
  const router = express.Router();

  const refuse = (req: Request, res: Response, e: HttpError) => {
    ingestRejected.inc({ source: 'webhook', reason: e.reason });
    const level = e.status >= 500 ? 'warn' : e.status === 401 ? 'warn' : 'info';
    log[level](`audit webhook: ${e.message}`, { status: e.status, reason: e.reason, remote: req.socket.remoteAddress });
    if (e.status === 401) res.set('WWW-Authenticate', 'Bearer realm="kontext"');
    if (e.status === 503) res.set('Retry-After', '1');
    if (e.status === 413) { res.set('Connection', 'close'); res.on('finish', () => req.destroy()); }
    res.status(e.status).json({ error: e.message });
  };

  router.post('/', async (req: Request, res: Response) => {
    try {
      const why = auth.check(req.headers.authorization);
      if (why !== null) throw new HttpError(401, why, 'unauthorized');
      if (downstream.saturated) throw new HttpError(503, 'pipeline saturated, retry later', 'saturated');
      const raw = await readBody(req, limit);
      let body: unknown;
      try { body = JSON.parse(raw.toString('utf8')); } catch (e) { throw new HttpError(400, `invalid JSON: ${(e as Error).message}`, 'bad-json'); }
      const items = itemsOf(body);
      ingestRecords.inc({ source: 'webhook' }, items.length);
      if (items.length === 0) { res.status(200).json({ accepted: 0 }); return; }
      const receipt = new UnitReceipt(items.length);
      downstream.push(items, receipt);
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
      res.status(200).json({ accepted: items.length });
    } catch (e) {
      if (e instanceof HttpError) { refuse(req, res, e); return; }
      log.error('audit webhook: unexpected error', { error: e as Error });
      if (!res.headersSent) res.status(500).json({ error: 'internal error' });
    }
  });

  router.all('/', (_req, res) => { res.set('Allow', 'POST').status(405).json({ error: 'use POST with an audit.k8s.io/v1 EventList' }); });
  return router;
}
