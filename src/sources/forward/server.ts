/**
 * Forward input: a Fluentd/Fluent Bit compatible forward protocol v1 server over TCP or TLS.
 *
 * - Frames are found by an incremental msgpack scanner, so message size and nesting limits
 *   apply before anything is decoded or buffered beyond `maxMessageBytes`.
 * - All four event modes; gzip CompressedPackedForward is inflated off the event loop with a
 *   bound on the inflated size.
 * - A message with a `chunk` option gets `{ack: chunk}` only after every record of it was
 *   settled downstream (stored, or dropped on purpose). If the pipeline fails the unit, the
 *   connection is closed without an ack, so the peer re-sends the chunk.
 * - Bad input (malformed msgpack, wrong types, oversized, slow partial frames, failed auth)
 *   closes that connection with one log line and a metric; other connections go on.
 * - Backpressure: while the downstream is saturated every socket stops reading (the kernel
 *   buffers fill and TCP pushes back on the peers) until the downstream drains.
 */
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { Downstream } from '../../types/pipeline.ts';
import { log as rootLog, type Logger } from '../../util/log.ts';
import { counter, gauge } from '../../util/metrics.ts';
import { ingestBytes, ingestPaused, ingestPauses, ingestRecords, ingestRejected, ingestUnitsAcked, ingestUnitsFailed } from '../metrics.ts';
import { UnitReceipt } from '../receipt.ts';
import { Handshake, parseUsers } from './handshake.ts';
import { encodeAck, FrameScanner, MsgpackError } from './msgpack.ts';
import { createDecoders, decodePacked, extractRecords, parsePing, parseTransport, ProtocolError, type Decoders, type TransportMessage } from './protocol.ts';

const connectionsOpen = gauge('kontext_forward_connections', 'Open forward connections.');
const connectionsTotal = counter('kontext_forward_connections_total', 'Forward connections accepted.');
const connectionsClosed = counter('kontext_forward_closed_total', 'Forward connections closed, by reason.');
const messagesTotal = counter('kontext_forward_messages_total', 'Forward messages received, by event mode.');
const handshakesTotal = counter('kontext_forward_handshakes_total', 'Shared-key handshakes, by result.');

export interface ForwardTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA bundle for client certificates (with requestCert) */
  ca?: string | Buffer;
  requestCert?: boolean;
}

export interface ForwardServerOptions {
  /** listen address (default 0.0.0.0) */
  host?: string;
  /** listen port; 0 picks a free one (default 24224) */
  port?: number;
  /** when set, peers must complete the HELO/PING/PONG handshake */
  sharedKey?: string;
  /** user auth on top of the shared key: "user:password,..." or a map */
  users?: string | Record<string, string>;
  /** this server's hostname in PONG (default os.hostname()) */
  hostname?: string;
  tls?: ForwardTlsOptions;
  /** largest message (one msgpack frame) accepted (default 64 MiB) */
  maxMessageBytes?: number;
  /** largest inflated CompressedPackedForward payload (default 4 x maxMessageBytes) */
  maxDecompressedBytes?: number;
  /** close connections idle, or sending one frame, longer than this (ms, default 60 s) */
  idleTimeout?: number;
  /** concurrent connections (default 1024) */
  maxConnections?: number;
  /** bytes of incomplete messages held across all connections (default max(4 x maxMessageBytes, 256 MiB)) */
  maxBufferedBytes?: number;
  /** deepest msgpack nesting accepted (default 512) */
  maxDepth?: number;
  logger?: Logger;
}

type ConnState = 'handshake' | 'ready' | 'closed';

let nextConnId = 1;

class Connection {
  readonly id = nextConnId++;
  readonly remote: string;
  state: ConnState;
  handshake?: Handshake;
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  private readonly scanner: FrameScanner;
  readonly connectedAt = Date.now();
  lastActivity = Date.now();
  /** when the first byte of the current incomplete frame arrived */
  frameStartedAt: number | null = null;
  pendingAcks = 0;
  /** inflating a compressed message: frames after it wait */
  busy = false;
  peerEnded = false;

  constructor(readonly server: ForwardServer, readonly socket: net.Socket) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.scanner = new FrameScanner(server.limits.maxMessageBytes, server.limits.maxDepth);
    this.state = server.handshakeRequired ? 'handshake' : 'ready';
  }

  get buffered(): number { return this.end - this.start; }

  /** reads while open, not inflating and the pipeline is not saturated */
  updateReading(): void {
    if (this.state === 'closed') return;
    if (this.busy || this.server.paused || this.server.closing) this.socket.pause();
    else this.socket.resume();
  }

  onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastActivity = Date.now();
    ingestBytes.inc({ source: 'forward' }, chunk.length);
    const limit = this.server.limits.maxBufferedBytes;
    if (this.server.bufferedTotal + chunk.length > limit) {
      this.reject('buffer-full', `partial messages of all connections exceed ${limit} bytes (max-buffered-bytes)`);
      return;
    }
    this.append(chunk);
    this.server.bufferedTotal += chunk.length;
    this.pump();
  }

  private append(chunk: Buffer): void {
    const len = chunk.length;
    if (this.end + len > this.buf.length) {
      const live = this.end - this.start;
      if (live + len <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const size = Math.max(live + len, Math.min(this.buf.length * 2, this.server.limits.maxMessageBytes + 65536), 16384);
        const nb = Buffer.allocUnsafe(size);
        this.buf.copy(nb, 0, this.start, this.end);
        this.buf = nb;
      }
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.buf, this.end);
    this.end += len;
  }

  /** Handles every complete frame buffered, as long as reading is allowed. */
  pump(): void {
    while (this.state !== 'closed' && !this.busy && !this.server.paused) {
      if (this.start === this.end) {
        this.frameStartedAt = null;
        if (this.buf.length > 1 << 20) this.release();
        this.maybeFinish();
        return;
      }
      let n: number;
      try {
        n = this.scanner.scan(this.buf, this.start, this.end);
      } catch (e) {
        const reason = e instanceof MsgpackError ? (e.reason === 'malformed' ? 'malformed-msgpack' : e.reason) : 'malformed-msgpack';
        this.reject(reason, (e as Error).message);
        return;
      }
      if (n === 0) {
        if (this.frameStartedAt === null) this.frameStartedAt = Date.now();
        if (this.peerEnded) this.reject('truncated', `connection ended inside a message (${this.buffered} bytes)`);
        return;
      }
      // a copy: decoded bin values are views of it and must outlive the connection buffer
      const frame = Buffer.from(this.buf.subarray(this.start, this.start + n));
      this.start += n;
      this.server.bufferedTotal -= n;
      this.frameStartedAt = this.start < this.end ? Date.now() : null;
      this.handleFrame(frame);
    }
  }

  private handleFrame(frame: Buffer): void {
    const d = this.server.decoders;
    try {
      if (this.state === 'handshake') { this.handlePing(frame); return; }
      const msg = parseTransport(frame, d);
      messagesTotal.inc({ mode: msg.mode });
      if (msg.mode === 'CompressedPackedForward') { this.inflate(msg); return; }
      const entries = msg.packed ? decodePacked(msg.packed, d, this.server.limits.maxDepth) : msg.entries!;
      this.deliver(msg, entries);
    } catch (e) {
      if (e instanceof ProtocolError) this.reject(e.reason, e.message);
      else this.reject('internal-error', `failed to handle message: ${(e as Error).message}`);
    }
  }

  private inflate(msg: TransportMessage): void {
    this.busy = true;
    this.updateReading();
    const input = msg.packed!;
    const limit = this.server.limits.maxDecompressedBytes;
    zlib.gunzip(input, { maxOutputLength: limit }, (err, out) => {
      this.busy = false;
      if (this.state === 'closed') return;
      if (err) {
        const big = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        this.reject(big ? 'oversized' : 'decompress-failed', big ? `compressed entries inflate beyond the limit of ${limit} bytes` : `gzip entries: ${err.message}`);
        return;
      }
      try {
        this.deliver(msg, decodePacked(out, this.server.decoders, this.server.limits.maxDepth));
      } catch (e) {
        if (e instanceof ProtocolError) this.reject(e.reason, e.message);
        else this.reject('internal-error', `failed to handle message: ${(e as Error).message}`);
        return;
      }
      this.updateReading();
      this.pump();
    });
  }

  private handlePing(frame: Buffer): void {
    const ping = parsePing(frame);
    const res = this.handshake!.verify(ping);
    if (!res.ok) {
      handshakesTotal.inc({ result: 'failed' });
      this.server.warnLimited('forward handshake failed; closing connection', { remote: this.remote, clientHostname: res.clientHostname, reason: res.reason });
      ingestRejected.inc({ source: 'forward', reason: 'auth-failed' });
      this.closeAfter(res.pong, 'auth-failed');
      return;
    }
    handshakesTotal.inc({ result: 'ok' });
    this.server.log.debug('forward peer authenticated', { remote: this.remote, clientHostname: res.clientHostname, username: res.username });
    this.state = 'ready';
    this.write(res.pong);
  }

  private deliver(msg: TransportMessage, entries: unknown[]): void {
    const { records } = extractRecords(entries);
    ingestRecords.inc({ source: 'forward' }, records.length);
    const chunk = msg.options.chunk ? { kind: msg.options.chunk.kind, bytes: Buffer.from(msg.options.chunk.bytes) } : undefined;
    if (!chunk) {
      if (records.length) this.server.push(records, undefined);
      return;
    }
    if (records.length === 0) { this.ack(chunk); return; }
    const receipt = new UnitReceipt(records.length);
    this.pendingAcks++;
    receipt.done.then(
      () => { this.pendingAcks--; this.ack(chunk); this.maybeFinish(); },
      (err: Error) => {
        this.pendingAcks--;
        ingestUnitsFailed.inc({ source: 'forward' });
        if (this.state === 'closed') return;
        this.server.log.warn('pipeline could not store a forward chunk; closing the connection without ack so the peer re-sends it', { remote: this.remote, tag: msg.tag, records: records.length, error: err.message });
        this.close('downstream-failed');
      },
    );
    this.server.push(records, receipt);
  }

  private ack(chunk: { kind: 'str' | 'bin'; bytes: Uint8Array }): void {
    if (this.state === 'closed') return;
    this.lastActivity = Date.now();
    ingestUnitsAcked.inc({ source: 'forward' });
    this.write(encodeAck(chunk));
  }

  private write(b: Buffer): void {
    if (this.state === 'closed' || this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(b);
  }

  /** after the peer's FIN: finish once every buffered message is handled and acked */
  maybeFinish(): void {
    if (this.peerEnded && this.state !== 'closed' && this.pendingAcks === 0 && !this.busy && this.start === this.end) {
      this.close('peer-closed');
    }
  }

  /** refuses this connection's input: one log line, a metric, and the connection closes */
  reject(reason: string, message: string): void {
    if (this.state === 'closed') return;
    ingestRejected.inc({ source: 'forward', reason });
    this.server.warnLimited(`forward input: ${message}; closing connection`, { remote: this.remote, reason });
    this.close(reason);
  }

  /** sends a last message, then closes */
  private closeAfter(last: Buffer, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.release();
    connectionsClosed.inc({ reason });
    this.socket.end(last);
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** gives this connection's buffered bytes back to the server-wide budget */
  release(): void {
    this.server.bufferedTotal -= this.end - this.start;
    this.start = this.end = 0;
    this.buf = Buffer.alloc(0);
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.release();
    connectionsClosed.inc({ reason });
    if (reason === 'peer-closed' || reason === 'shutdown') this.socket.end();
    else this.socket.destroy();
  }
}

/** Resolves options against defaults. */
function limitsOf(o: ForwardServerOptions) {
  const maxMessageBytes = o.maxMessageBytes ?? 64 * 1024 * 1024;
  return {
    maxMessageBytes,
    maxDecompressedBytes: o.maxDecompressedBytes ?? maxMessageBytes * 4,
    idleTimeout: o.idleTimeout ?? 60_000,
    maxConnections: o.maxConnections ?? 1024,
    maxBufferedBytes: o.maxBufferedBytes ?? Math.max(maxMessageBytes * 4, 256 * 1024 * 1024),
    maxDepth: o.maxDepth ?? 512,
  };
}

export class ForwardServer {
  readonly limits: ReturnType<typeof limitsOf>;
  readonly log: Logger;
  readonly decoders: Decoders = createDecoders();
  readonly handshakeRequired: boolean;
  private readonly users: Map<string, string> | undefined;
  private readonly hostname: string;
  private readonly server: net.Server;
  private readonly conns = new Set<Connection>();
  private rawConnections = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private warnWindow = { start: 0, count: 0, suppressed: 0 };
  paused = false;
  closing = false;
  /** bytes buffered by all connections (incomplete or not yet handled messages) */
  bufferedTotal = 0;

  constructor(private readonly downstream: Downstream, private readonly opts: ForwardServerOptions = {}) {
    this.limits = limitsOf(opts);
    this.log = (opts.logger ?? rootLog).child({ component: 'forward' });
    this.handshakeRequired = opts.sharedKey !== undefined && opts.sharedKey !== '';
    this.users = parseUsers(opts.users);
    if (this.users && !this.handshakeRequired) throw new Error('forward users need a shared key');
    this.hostname = opts.hostname ?? os.hostname();
    const onRaw = (socket: net.Socket) => this.onRawConnection(socket);
    if (opts.tls) {
      const s = tls.createServer({
        cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: opts.tls.requestCert ?? false,
        rejectUnauthorized: opts.tls.requestCert ?? false,
        allowHalfOpen: true, handshakeTimeout: this.limits.idleTimeout,
      });
      s.on('connection', onRaw);
      s.on('secureConnection', (sock: tls.TLSSocket) => this.onConnection(sock));
      s.on('tlsClientError', (err, sock) => {
        ingestRejected.inc({ source: 'forward', reason: 'tls' });
        this.warnLimited(`forward input: TLS handshake failed: ${err.message}`, { remote: `${sock.remoteAddress}:${sock.remotePort}`, reason: 'tls' });
      });
      this.server = s;
    } else {
      this.server = net.createServer({ allowHalfOpen: true });
      this.server.on('connection', (sock: net.Socket) => { if (onRaw(sock)) this.onConnection(sock); });
    }
    this.server.on('error', (err) => this.log.error('forward server error', { error: err }));
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.opts.port ?? 24224, this.opts.host ?? '0.0.0.0', () => {
        this.server.off('error', onError);
        const every = Math.max(25, Math.min(1000, this.limits.idleTimeout / 4));
        this.sweepTimer = setInterval(() => this.sweep(), every);
        this.sweepTimer.unref();
        const a = this.address();
        this.log.info(`forward input listening on ${a.host}:${a.port}`, {
          tls: Boolean(this.opts.tls), sharedKey: this.handshakeRequired, users: this.users?.size ?? 0,
          maxMessageBytes: this.limits.maxMessageBytes, idleTimeout: this.limits.idleTimeout, maxConnections: this.limits.maxConnections,
        });
        resolve(a);
      });
    });
  }

  address(): { host: string; port: number } {
    const a = this.server.address();
    if (!a || typeof a === 'string') throw new Error('forward server is not listening');
    return { host: a.address, port: a.port };
  }

  get connectionCount(): number { return this.conns.size; }

  /**
   * Warnings about bad input, at most 20 per 10 s (a flood of garbage connections must not
   * flood the log); the number suppressed is reported when the next window opens.
   */
  warnLimited(msg: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const w = this.warnWindow;
    if (now - w.start >= 10_000) {
      if (w.suppressed) this.log.warn(`forward input: ${w.suppressed} more bad-input warnings suppressed in the last 10 s (see kontext_ingest_rejected_total)`);
      w.start = now; w.count = 0; w.suppressed = 0;
    }
    if (++w.count <= 20) this.log.warn(msg, fields);
    else w.suppressed++;
  }

  /** true if accepted */
  private onRawConnection(socket: net.Socket): boolean {
    if (this.closing || this.rawConnections >= this.limits.maxConnections) {
      ingestRejected.inc({ source: 'forward', reason: 'max-connections' });
      this.warnLimited(this.closing ? 'forward input: refusing connection during shutdown'
        : `forward input: refusing connection, ${this.limits.maxConnections} already open (max-connections)`,
      { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: 'max-connections' });
      socket.destroy();
      return false;
    }
    this.rawConnections++;
    socket.once('close', () => { this.rawConnections--; });
    return true;
  }

  private onConnection(socket: net.Socket): void {
    if (socket.destroyed) return;
    const c = new Connection(this, socket);
    this.conns.add(c);
    connectionsTotal.inc();
    connectionsOpen.set(this.conns.size);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => {
      try { c.onData(chunk); } catch (e) { c.reject('internal-error', `unexpected error: ${(e as Error).message}`); }
    });
    socket.on('end', () => { c.peerEnded = true; c.pump(); c.maybeFinish(); });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug('forward connection error', { remote: c.remote, code: err.code, error: err.message });
      c.close('socket-error');
    });
    socket.on('close', () => {
      if (c.state !== 'closed') { c.release(); c.state = 'closed'; }
      this.conns.delete(c);
      connectionsOpen.set(this.conns.size);
    });
    this.log.debug('forward peer connected', { remote: c.remote });
    if (this.handshakeRequired) {
      c.handshake = new Handshake(this.opts.sharedKey!, this.hostname, this.users);
      socket.write(c.handshake.helo());
    }
    c.updateReading();
  }

  /** Hands records to the pipeline; stops every socket when it is saturated. */
  push(records: unknown[], receipt: UnitReceipt | undefined): void {
    try {
      this.downstream.push(records, receipt);
    } catch (e) {
      this.log.error('pipeline refused records', { error: e as Error });
      receipt?.fail(e as Error);
    }
    if (this.downstream.saturated) this.pauseAll();
  }

  private pauseAll(): void {
    if (!this.paused) {
      this.paused = true;
      ingestPaused.set(1, { source: 'forward' });
      ingestPauses.inc({ source: 'forward' });
      this.log.debug('pipeline saturated: forward input stops reading');
      for (const c of this.conns) c.updateReading();
    }
    if (!this.waitingDrain) {
      this.waitingDrain = true;
      this.downstream.onDrain(() => { this.waitingDrain = false; this.onDrain(); });
    }
  }

  private onDrain(): void {
    if (!this.paused) return;
    if (this.downstream.saturated) { this.pauseAll(); return; }
    this.paused = false;
    ingestPaused.set(0, { source: 'forward' });
    this.log.debug('pipeline drained: forward input reads again');
    const now = Date.now();
    for (const c of this.conns) {
      // time spent paused is not the peer's fault
      c.lastActivity = now;
      if (c.frameStartedAt !== null) c.frameStartedAt = now;
      c.updateReading();
    }
    for (const c of this.conns) { if (this.paused) break; c.pump(); }
  }

  private sweep(): void {
    if (this.paused) return;
    const now = Date.now();
    const t = this.limits.idleTimeout;
    for (const c of this.conns) {
      if (c.state === 'closed' || c.busy) continue;
      if (c.frameStartedAt !== null && now - c.frameStartedAt > t) {
        c.reject('slow-frame', `incomplete message for more than ${t} ms (${c.buffered} bytes buffered; slow or stalled sender)`);
      } else if (c.state === 'handshake' && now - c.connectedAt > t) {
        c.reject('handshake-timeout', `no PING within ${t} ms of HELO`);
      } else if (c.pendingAcks === 0 && now - c.lastActivity > t) {
        this.log.debug('closing idle forward connection', { remote: c.remote, idleMs: now - c.lastActivity });
        c.close('idle');
      }
    }
  }

  /**
   * Stops accepting, stops reading, waits up to `graceMs` for pending chunks to be settled
   * (and acked), then closes every connection. Unacked chunks are re-sent by the peers.
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const c of this.conns) c.updateReading();
    const deadline = Date.now() + (opts.graceMs ?? 5000);
    while (Date.now() < deadline && [...this.conns].some((c) => c.pendingAcks > 0 && c.state !== 'closed')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of this.conns) c.close('shutdown');
    const hard = setTimeout(() => { for (const c of this.conns) c.socket.destroy(); }, 1000);
    await closed;
    clearTimeout(hard);
    this.log.info('forward input closed');
  }
}
