/**
 * Forward input: a Fluentd/Fluent Bit compatible forward protocol v1 server over TCP or TLS.
 *
 * - Frames are found by an incremental msgpack scanner, so message size and nesting limits
 *   apply before anything is decoded or buffered beyond `maxMessageBytes`.
 * - All four event modes. Entries are decoded incrementally (entries.ts): gzip is inflated as
 *   a stream capped at max-message-bytes and at max-decompression-ratio × the compressed
 *   size, complete entries go downstream in batches of at most 64 KiB of msgpack, and the
 *   server yields to the event loop (and waits while the pipeline is saturated) between
 *   batches. A limit crossed aborts the connection at once.
 * - A message with a `chunk` option gets `{ack: chunk}` only after every record of it was
 *   settled downstream (stored, or dropped on purpose). If the pipeline fails the unit, the
 *   connection is closed without an ack, so the peer re-sends the chunk.
 * - Bad input (malformed msgpack, wrong types, oversized, slow partial frames, failed auth)
 *   closes that connection with one log line and a metric; other connections go on.
 * - Connection slots: at most max-connections in total and max-connections-per-peer per remote
 *   address. When every slot is taken, the oldest connection that has not proven itself yet
 *   (TLS or shared-key handshake unfinished, no valid message) is evicted for the newcomer,
 *   so handshake stalls and idle floods cannot lock out a valid peer. Every failure path
 *   destroys its socket.
 * - Backpressure: while the downstream is saturated every socket stops reading (the kernel
 *   buffers fill and TCP pushes back on the peers) until the downstream drains.
 */
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import type { Downstream } from '../../types/pipeline.ts';
import { log as rootLog, type Logger } from '../../util/log.ts';
import { counter, gauge, histogram } from '../../util/metrics.ts';
import { ingestBytes, ingestPaused, ingestPauses, ingestRecords, ingestRejected, ingestUnitsAcked, ingestUnitsFailed } from '../metrics.ts';
import { UnitReceipt } from '../receipt.ts';
import { Handshake, parseUsers } from './handshake.ts';
import { EntrySplitter, inflateBounded, slices } from './entries.ts';
import { encodeAck, FrameScanner, MsgpackError } from './msgpack.ts';
import { createDecoders, extractRecords, parsePing, parseTransport, ProtocolError, type Decoders, type TransportMessage } from './protocol.ts';

const connectionsOpen = gauge('kontext_forward_connections', 'Open forward connections.');
const connectionsTotal = counter('kontext_forward_connections_total', 'Forward connections accepted.');
const connectionsClosed = counter('kontext_forward_closed_total', 'Forward connections closed, by reason.');
const messagesTotal = counter('kontext_forward_messages_total', 'Forward messages received, by event mode.');
const unitLatency = histogram('kontext_forward_unit_latency_seconds', 'Time from receiving a forward chunk until its ack was sent (its records stored in Elasticsearch or dropped on purpose).');
const handshakesTotal = counter('kontext_forward_handshakes_total', 'Shared-key handshakes, by result.');

export interface ForwardTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA bundle for client certificates: when set, peers must present a certificate it signed (mTLS) */
  ca?: string | Buffer;
  /** require and verify client certificates (default: true when `ca` is set) */
  requestCert?: boolean;
}

export interface ForwardServerOptions {
  /** the cluster a message's tag names (--cluster-from-tag); undefined: the record key or --cluster-name decides */
  clusterOfTag?: (tag: string) => string | undefined;
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
  /** largest inflated CompressedPackedForward payload (default maxMessageBytes) */
  maxDecompressedBytes?: number;
  /** largest inflated / compressed size ratio of a CompressedPackedForward payload above 1 MiB inflated (default 100) */
  maxDecompressionRatio?: number;
  /** close connections idle, or sending one frame, longer than this (ms, default 60 s) */
  idleTimeout?: number;
  /** concurrent connections (default 1024) */
  maxConnections?: number;
  /** concurrent connections from one remote address (default 128) */
  maxConnectionsPerPeer?: number;
  /** TLS handshake, and HELO → PING, must finish within this (ms, default min(10 s, idleTimeout)) */
  handshakeTimeout?: number;
  /** bytes of incomplete messages held across all connections (default max(4 x maxMessageBytes, 256 MiB)) */
  maxBufferedBytes?: number;
  /** entries in one message (default 100000): a message of millions of tiny entries is refused */
  maxMessageEntries?: number;
  /** deepest msgpack nesting accepted (default 512) */
  maxDepth?: number;
  logger?: Logger;
}

type ConnState = 'handshake' | 'ready' | 'closed';

/** A connection slot: taken when a socket is accepted (before any TLS handshake). */
interface Slot {
  socket: net.Socket;
  peer: string;
  at: number;
  conn?: Connection;
  release: () => void;
}

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
  /** decoding a message's entries: frames after it wait */
  busy = false;
  /** authenticated (mTLS, shared key) or sent a valid message: not evicted for newcomers */
  proven = false;
  peerEnded = false;

  constructor(readonly server: ForwardServer, readonly socket: net.Socket) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.scanner = new FrameScanner(server.limits.maxMessageBytes, server.limits.maxDepth);
    this.state = server.handshakeRequired ? 'handshake' : 'ready';
  }

  get buffered(): number { return this.end - this.start; }
  get isClosed(): boolean { return this.state === 'closed'; }

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
      if (msg.entries) { this.proven = true; this.deliverAll(msg, msg.entries); return; }
      void this.receive(msg);
    } catch (e) {
      if (e instanceof ProtocolError) this.reject(e.reason, e.message);
      else this.reject('internal-error', `failed to handle message: ${(e as Error).message}`);
    }
  }

  /**
   * Decodes the entries of a Forward / PackedForward / CompressedPackedForward message batch by
   * batch (entries.ts), pushing each batch downstream; frames after it wait. The chunk is acked
   * once every batch is settled; any error aborts the connection without an ack.
   */
  private async receive(msg: TransportMessage): Promise<void> {
    const server = this.server;
    const lim = server.limits;
    this.busy = true;
    this.updateReading();
    const chunk = msg.options.chunk ? { kind: msg.options.chunk.kind, bytes: Buffer.from(msg.options.chunk.bytes) } : undefined;
    const settled: Promise<void>[] = [];
    let records = 0;
    let entriesSeen = 0;
    if (chunk) this.pendingAcks++;
    let ok = false;
    try {
      const splitter = new EntrySplitter(server.decoders, lim.maxDecompressedBytes, lim.maxDepth);
      const chunks = msg.mode === 'CompressedPackedForward'
        ? inflateBounded(msg.packed!, { maxDecodedBytes: lim.maxDecompressedBytes, maxRatio: lim.maxDecompressionRatio, maxDepth: lim.maxDepth })
        : slices(msg.packed!);
      for await (const bytes of chunks) {
        if (this.isClosed) return;
        const entries = splitter.push(bytes);
        if (entries.length) {
          const { records: batch } = extractRecords(entries, 'entries', entriesSeen);
          entriesSeen += entries.length;
          if (entriesSeen > lim.maxMessageEntries) throw new ProtocolError(`more than ${lim.maxMessageEntries} entries in one message (max-message-entries)`, 'too-many-entries');
          if (!this.proven) this.proven = true;
          if (batch.length) {
            records += batch.length;
            ingestRecords.inc({ source: 'forward' }, batch.length);
            const receipt = chunk ? new UnitReceipt(batch.length) : undefined;
            if (receipt) settled.push(receipt.done);
            server.push(batch, receipt, msg.tag);
          }
        }
        await server.turn();
        if (this.isClosed) return;
        if (server.closing) { this.close('shutdown'); return; }
      }
      splitter.finish();
      ok = true;
    } catch (e) {
      if (e instanceof ProtocolError) this.reject(e.reason, e.message);
      else this.reject('internal-error', `failed to handle message: ${(e as Error).message}`);
    } finally {
      this.busy = false;
      if (chunk && !ok) this.pendingAcks--;
    }
    if (!ok) return;
    if (chunk) this.ackWhenSettled(msg, chunk, records, settled);
    this.updateReading();
    this.pump();
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
    this.proven = true;
    this.write(res.pong);
  }

  /** Message mode: one entry, already decoded. */
  private deliverAll(msg: TransportMessage, entries: unknown[]): void {
    const { records } = extractRecords(entries);
    ingestRecords.inc({ source: 'forward' }, records.length);
    const chunk = msg.options.chunk ? { kind: msg.options.chunk.kind, bytes: Buffer.from(msg.options.chunk.bytes) } : undefined;
    if (!chunk) {
      if (records.length) this.server.push(records, undefined, msg.tag);
      return;
    }
    const receipt = records.length ? new UnitReceipt(records.length) : undefined;
    this.pendingAcks++;
    if (receipt) this.server.push(records, receipt, msg.tag);
    this.ackWhenSettled(msg, chunk, records.length, receipt ? [receipt.done] : []);
  }

  /** acks once every part is settled (pendingAcks already counts this chunk) */
  private ackWhenSettled(msg: TransportMessage, chunk: { kind: 'str' | 'bin'; bytes: Uint8Array }, records: number, parts: Promise<void>[]): void {
    if (parts.length === 0) { this.pendingAcks--; this.ack(chunk); this.maybeFinish(); return; }
    const timer = unitLatency.startTimer();
    Promise.all(parts).then(
      () => { this.pendingAcks--; timer(); this.ack(chunk); this.maybeFinish(); },
      (err: Error) => {
        this.pendingAcks--;
        ingestUnitsFailed.inc({ source: 'forward' });
        if (this.state === 'closed') return;
        this.server.log.warn('pipeline could not store a forward chunk; closing the connection without ack so the peer re-sends it', { remote: this.remote, tag: msg.tag, records, error: err.message });
        this.close('downstream-failed');
      },
    );
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
    maxDecompressedBytes: o.maxDecompressedBytes ?? maxMessageBytes,
    maxDecompressionRatio: o.maxDecompressionRatio ?? 100,
    idleTimeout: o.idleTimeout ?? 60_000,
    handshakeTimeout: o.handshakeTimeout ?? Math.min(10_000, o.idleTimeout ?? 60_000),
    maxConnections: o.maxConnections ?? 1024,
    maxConnectionsPerPeer: o.maxConnectionsPerPeer ?? 128,
    maxBufferedBytes: o.maxBufferedBytes ?? Math.max(maxMessageBytes * 4, 256 * 1024 * 1024),
    maxDepth: o.maxDepth ?? 512,
    maxMessageEntries: o.maxMessageEntries ?? 100_000,
  };
}

export class ForwardServer {
  readonly limits: ReturnType<typeof limitsOf>;
  readonly log: Logger;
  readonly decoders: Decoders = createDecoders();
  readonly handshakeRequired: boolean;
  /** TLS with verified client certificates */
  readonly mtls: boolean = false;
  private readonly users: Map<string, string> | undefined;
  private readonly hostname: string;
  private readonly server: net.Server;
  private readonly conns = new Set<Connection>();
  /** accepted sockets (TLS ones before their handshake too), by remote address:port */
  private readonly slots = new Map<string, Slot>();
  private readonly perPeer = new Map<string, number>();
  private turnWaiters: Array<() => void> = [];
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
    if (opts.tls) {
      const mtls = opts.tls.requestCert ?? opts.tls.ca !== undefined;
      if (mtls && opts.tls.ca === undefined) throw new Error('forward TLS client certificates need a CA (--forward-tls-ca)');
      this.mtls = mtls;
      const s = tls.createServer({
        cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: mtls, rejectUnauthorized: mtls,
        allowHalfOpen: true, handshakeTimeout: this.limits.handshakeTimeout,
      });
      s.on('connection', (sock: net.Socket) => { this.onRawConnection(sock); });
      s.on('secureConnection', (sock: tls.TLSSocket) => this.onConnection(sock));
      s.on('tlsClientError', (err, sock) => {
        const remote = `${sock.remoteAddress}:${sock.remotePort}`;
        ingestRejected.inc({ source: 'forward', reason: 'tls' });
        this.warnLimited(`forward input: TLS handshake failed: ${err.message}; closing connection`, { remote, reason: 'tls' });
        sock.destroy();
        this.slotOf(sock)?.release();
      });
      this.server = s;
    } else {
      this.server = net.createServer({ allowHalfOpen: true });
      this.server.on('connection', (sock: net.Socket) => { if (this.onRawConnection(sock)) this.onConnection(sock); });
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
          mtls: this.mtls, maxMessageBytes: this.limits.maxMessageBytes, maxDecompressionRatio: this.limits.maxDecompressionRatio,
          idleTimeout: this.limits.idleTimeout, maxConnections: this.limits.maxConnections, maxConnectionsPerPeer: this.limits.maxConnectionsPerPeer,
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
  /** connection slots taken (TLS sockets before their handshake included) */
  get slotCount(): number { return this.slots.size; }

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

  private slotOf(socket: net.Socket): Slot | undefined {
    return this.slots.get(`${socket.remoteAddress}:${socket.remotePort}`);
  }

  private refuse(socket: net.Socket, reason: string, message: string): false {
    ingestRejected.inc({ source: 'forward', reason });
    this.warnLimited(`forward input: ${message}`, { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason });
    socket.destroy();
    return false;
  }

  /** Takes a connection slot for a new socket (evicting an unproven one when full); true if accepted. */
  private onRawConnection(socket: net.Socket): boolean {
    const peer = socket.remoteAddress ?? '?';
    if (this.closing) return this.refuse(socket, 'max-connections', 'refusing connection during shutdown');
    const mine = this.perPeer.get(peer) ?? 0;
    if (mine >= this.limits.maxConnectionsPerPeer) {
      return this.refuse(socket, 'max-connections-per-peer', `refusing connection, ${mine} already open from ${peer} (max-connections-per-peer)`);
    }
    if (this.slots.size >= this.limits.maxConnections && !this.evictOne()) {
      return this.refuse(socket, 'max-connections', `refusing connection, ${this.limits.maxConnections} already open (max-connections)`);
    }
    const key = `${peer}:${socket.remotePort}`;
    let released = false;
    const slot: Slot = {
      socket, peer, at: Date.now(),
      release: () => {
        if (released) return;
        released = true;
        if (this.slots.get(key) === slot) this.slots.delete(key);
        const n = (this.perPeer.get(peer) ?? 1) - 1;
        if (n <= 0) this.perPeer.delete(peer); else this.perPeer.set(peer, n);
      },
    };
    this.slots.set(key, slot);
    this.perPeer.set(peer, mine + 1);
    socket.once('close', slot.release);
    return true;
  }

  /** Frees a slot held by the oldest socket that has not proven itself; false if there is none. */
  private evictOne(): boolean {
    let victim: Slot | undefined;
    for (const s of this.slots.values()) {
      const c = s.conn;
      if (c && (c.proven || c.pendingAcks > 0 || c.busy)) continue;
      if (!victim || s.at < victim.at) victim = s;
    }
    if (!victim) return false;
    ingestRejected.inc({ source: 'forward', reason: 'evicted' });
    this.warnLimited('forward input: every connection slot is taken; evicting the oldest unauthenticated connection', { remote: `${victim.peer}:${victim.socket.remotePort}`, reason: 'evicted' });
    if (victim.conn) victim.conn.close('evicted');
    victim.socket.destroy();
    victim.release();
    return true;
  }

  /**
   * Between two batches of one message: lets other connections and timers run, and waits
   * while the pipeline is saturated.
   */
  async turn(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    while (this.paused && !this.closing) await new Promise<void>((r) => this.turnWaiters.push(r));
  }

  private wakeTurns(): void {
    const w = this.turnWaiters.splice(0);
    for (const r of w) r();
  }

  private onConnection(socket: net.Socket): void {
    if (socket.destroyed) return;
    const c = new Connection(this, socket);
    const slot = this.slotOf(socket);
    if (slot) { slot.conn = c; socket.once('close', slot.release); }
    if (this.mtls) c.proven = true;
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
  push(records: unknown[], receipt: UnitReceipt | undefined, tag?: string): void {
    try {
      this.downstream.push(records, receipt, tag !== undefined ? this.opts.clusterOfTag?.(tag) : undefined);
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
    this.wakeTurns();
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
      } else if (c.state === 'handshake' && now - c.connectedAt > this.limits.handshakeTimeout) {
        c.reject('handshake-timeout', `no PING within ${this.limits.handshakeTimeout} ms of HELO`);
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
    this.wakeTurns();
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
