/**
 * Streaming clusterer: labeled events in event-time order → contexts.
 *
 * Per label, each event is scored against the contexts it shares link keys with (same object,
 * owner/involvedObject/claimRef links, name family, namespace object, pod-on-node, same user;
 * see keys.ts) plus the most recent contexts of the label, with a bonus for recent activity,
 * and joins the best one when the score reaches the threshold (K8NTEXT's greedy scoring, with
 * richer keys). On top of that:
 *  - a request of a person (see isPerson) that performs the labeled operation is a new
 *    trigger and starts a new context, except right after the same person's reads (kubectl
 *    apply GETs first), a retry of the same request, or the next request of one helm release;
 *  - a new trigger on the same object supersedes (closes) the previous context of the label
 *    on it: the controllers now work for the new action;
 *  - other requests of a person join only that person's own context (linked by object, or
 *    right after their last request there, in the same namespace);
 *  - a kubelet's service-account token request takes the oldest pod bound to its node in that
 *    namespace (kubelets start bound pods in order; the request names only the account), and
 *    the configmap/secret reflectors it starts right after follow it;
 *  - a control-plane event without a strong link falls back to the most recent compatible
 *    context of its label (with oracle or good labels every cascade event belongs to some
 *    action of its label), else it starts one.
 *
 * Background events (`background <kind>`) are aggregated per kind and identity into windows
 * (`backgroundMaxAgeMs`, `backgroundIdleMs`), rewritten at most every `backgroundWriteMs`.
 *
 * Contexts close on event time relative to the watermark: idle (no member for `idleMs`), age
 * (`maxAgeMs` after the first member) or size (`maxEvents`). Closed contexts stay in memory a
 * while (`retainMs`, at most `maxRetained`) so late events still attach; the document is then
 * re-written in place (same `_id`, higher version). A late event whose context has been
 * evicted starts a new context (documented policy: no read-modify-write against the store).
 *
 * Memory: candidate lookup is O(keys) through a per-label index whose entries keep only the
 * few most recent contexts per key; members are kept without request/response bodies; open
 * contexts are capped (`maxOpen`, the least recently active are closed first).
 */
import type { LabeledEvent, Receipt } from '../types/pipeline.ts';
import type { AuditEvent } from '../types/audit.ts';
import type { ClusterStage, ContextWrite, RawEvent } from './types.ts';
import type { SecurityFlag } from '../types/context.ts';
import { eventFlags, FLAG_ORDER, resourceOf, summarize } from './summary.ts';
import { bodyKeys, eventKeys, keyWeight } from './keys.ts';
import { parseLabelKey, verbClassOf, type Label } from '../types/label.ts';
import { clientFamily, isPerson, isSystemUser } from '../k8s/identity.ts';
import { ATTRIBUTION, COMMAND_SESSION, type AttributionParams } from '../k8s/params.ts';
import { ReleaseTracker } from '../k8s/sessions.ts';
import { isReleaseListing } from '../k8s/helm.ts';
import { isNamespaceBirth, namespaceChange, startsUnlinkedWork } from '../k8s/namespaces.ts';
import { causesNoControllerWork, changesOnlyMetadata, isCommandClient, isManifestApply } from '../k8s/kubectl.ts';
import { isDryRun, selectedName } from '../k8s/uri.ts';
import { parseAuditTime } from '../normalize/time.ts';
import { counter, gauge } from '../util/metrics.ts';
import { ctxCodec, restoreTables, SessionMap, snapshotTables, valueTable, withCtxCodec, type ClusterSnapshot, type CtxRefs, type SessionTable } from './snapshot.ts';

const mContexts = counter('kontext_cluster_contexts_total', 'Contexts created, by kind.');
const mClosed = counter('kontext_cluster_contexts_closed_total', 'Contexts closed, by reason.');
const mLate = counter('kontext_cluster_late_attached_total', 'Events attached to an already closed context.');
const mOpen = gauge('kontext_cluster_open_contexts', 'Open contexts.');

export interface ClustererOptions {
  /** close after this long without a new member, event time (default 60 s; `contextIdle`) */
  idleMs?: number;
  /** close this long after the first member (default 300 s; `contextMaxAge`) */
  maxAgeMs?: number;
  /** close at this many members (default 1000; `contextMaxEvents`) */
  maxEvents?: number;
  /** keep closed contexts for late events this long after they closed, event time (default = idleMs) */
  retainMs?: number;
  /** closed contexts kept at most (default 20 000) */
  maxRetained?: number;
  /** open contexts at most; beyond, the least recently active close (default 50 000) */
  maxOpen?: number;
  /** score needed to join a context on links (default 50) */
  threshold?: number;
  /** an unlinked cascade event joins the most recent context of its label at most this far back (default 30 s) */
  fallbackMs?: number;
  /** a new trigger by the same user this soon after the previous one continues that context (default 2 s) */
  triggerBurstMs?: number;
  /**
   * an apply of a set of manifests goes on while its requests are at most this far apart
   * (default 250 ms: kubectl sends an object's read and write back to back, and client-go's
   * throttling spaces a long run of requests 200 ms apart)
   */
  applyStepMs?: number;
  /** a person's kubectl request this soon after their previous one returned continues that command (default COMMAND_SESSION.commandStepMs) */
  commandStepMs?: number;
  /** contexts remembered per link key (default 8) */
  perKey?: number;
  /** keep raw events for the raw index (`rawRetention` > 0) */
  keepRaw?: boolean;
  /**
   * Wall clock (default Date.now). When no event has been pushed for a while, `collect()`
   * without a watermark advances event time by the wall time elapsed since the last push, so
   * contexts still close when a live input goes quiet.
   */
  wallClock?: () => number;
  /** background (noise) contexts: close after this long without a member (default 10 min) */
  backgroundIdleMs?: number;
  /** background contexts aggregate one kind of traffic of one identity for up to this long (default 30 min; `backgroundWindow`) */
  backgroundMaxAgeMs?: number;
  /** an open background context is rewritten at most this often, event time (default 10 s) */
  backgroundWriteMs?: number;
  /**
   * ...unless the input has been quiet this long (wall time; default 500 ms): a peer waiting
   * for the acks of what it sent is not kept waiting for the next rewrite
   */
  backgroundQuietWriteMs?: number;
  /** link key weights by kind (see keys.ts WEIGHTS); 0 disables a kind */
  weights?: Partial<Record<'o' | 'u' | 'n' | 'f' | 'k' | 'h' | 'a' | 'y' | 's', number>>;
  /** a new trigger (non-system identity performing the labeled operation) starts a new context (default true) */
  triggerRule?: boolean;
  /** score bonus for recency: up to this much for a context active just now, fading over 10 s (default 20) */
  recencyBonus?: number;
  /** attribution thresholds shared with the labeler (release sessions, origin horizon) */
  attribution?: AttributionParams;
  /** detections of each context (default: shipped event and context detections, no state) */
  detections?: import('../detect/engine.ts').Detector;
}

type CloseReason = 'idle' | 'age' | 'size' | 'force' | 'memory' | 'superseded';

interface Ctx {
  id: string;
  label: string;
  background: boolean;
  bgKey?: string;
  events: LabeledEvent[];
  start: number;
  last: number;
  keys: Set<string>;
  /** user and namespace of the first member */
  firstUser: string;
  firstNs?: string;
  /** last member time per non-system user */
  userLast: Map<string, number>;
  triggerUser?: string;
  lastTrigger: number;
  /** the latest trigger request (verb and URI) if it failed: the same request again soon after is a retry */
  triggerRequest?: string;
  /** link key of the object the trigger acted on, and its namespace */
  triggerKey?: string;
  triggerNs?: string;
  /** the helm release session this context is (see k8s/sessions.ts) */
  release?: string;
  /** the release's previous command, until this one changes something (see supersedeRelease) */
  releasePrev?: Ctx;
  /** other labels' indexes that also hold this context's keys (see registerAlso) */
  alsoIn?: Set<string>;
  /** when a person's cluster-scoped change in it last took effect */
  clusterChange?: number;
  /** a person's change took effect in it (a context of reads only causes no control-plane work) */
  changes?: boolean;
  /** namespaces a person created or deleted in it, and when (see namespaceLinks) */
  nsLife?: Map<string, { verb: 'create' | 'delete'; t: number }>;
  state: 'open' | 'closed';
  reason?: CloseReason;
  /** watermark when closed */
  closedAt: number;
  /** watermark of the last write */
  lastWrite: number;
  dirty: boolean;
  newEvents: number;
  /** auditIDs added since the last write */
  added: string[];
  receipts: Map<Receipt, number>;
  raw: RawEvent[];
  /** flags of the stored summary (restored contexts) */
  storedFlags?: SecurityFlag[];
}

interface LabelIndex {
  byKey: Map<string, Ctx[]>;
  /** most recent contexts of the label, newest last */
  recent: Ctx[];
  /**
   * Pods bound to a node and not yet started, per "<node>:<ns>", oldest first; and the context
   * whose pod the node's kubelet started last. A kubelet starts bound pods in order: it
   * requests the service account token of each (the request names only the service account),
   * then lists the configmaps/secrets the pod mounts.
   */
  starts: Map<string, { pending: Array<{ c: Ctx; t: number }>; last?: { c: Ctx; t: number } }>;
}

const ROUTINE_KEY = 'background controller';
const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const ROUTINE_LABEL: Label = parseLabelKey(ROUTINE_KEY);

const START_WAIT = 60_000;
const START_FOLLOW = 2_000;

const RECENT = 8;

/** Strips bodies (kept only when they raise a flag the summary needs). */
function slim(e: LabeledEvent): LabeledEvent {
  const a = e.audit;
  let audit: AuditEvent = a;
  if (a.requestObject !== undefined || a.responseObject !== undefined) {
    const { requestObject, responseObject: _r, ...rest } = a;
    audit = rest as AuditEvent;
    if (requestObject !== undefined && eventFlags(a).includes('privileged-pod')) audit.requestObject = requestObject;
  }
  const out: LabeledEvent = { audit, time: e.time, label: e.label, labelKey: e.labelKey, labelSource: e.labelSource, confidence: e.confidence };
  const keys = e.linkKeys ?? bodyKeys(a);
  if (keys.length) out.linkKeys = keys;
  return out;
}

/** Whether the event performs its label's operation itself, as a person (see isPerson). */
function isTriggerLike(e: LabeledEvent): boolean {
  const l = e.label;
  if (l.kind !== 'trigger') return false;
  const a = e.audit;
  if (!isPerson(a)) return false;
  if (verbClassOf(a.verb) !== l.verbClass) return false;
  if (resourceOf(a) !== l.resource) return false;
  return (a.objectRef?.subresource ?? undefined) === (l.subresource ?? undefined);
}

/** A request as its client sent it: verb and URI (a retry sends the same again; `scale` then `set image` differ). */
function requestOf(a: AuditEvent): string {
  return `${a.verb} ${a.requestURI ?? ''}`;
}

/** A person's request that changed something (controllers may act on it): a successful write that was no dry run. */
function personChange(a: AuditEvent): boolean {
  return MUTATING.has(a.verb) && (a.responseStatus?.code ?? 0) < 400 && !isDryRun(a.requestURI) && isPerson(a);
}

/** Link key of the object a request acts on (as registered by keys.ts), if it names one. */
function triggerKeyOf(a: AuditEvent): string | undefined {
  const r = a.objectRef;
  return r?.name ? `o:${resourceOf(a)}:${r.namespace ?? ''}/${r.name}` : undefined;
}

/** The object a request names: by name, or by a `metadata.name` field selector (a watch of one object). */
function namedObjectOf(a: AuditEvent): string | undefined {
  const r = a.objectRef;
  const name = r?.name ?? selectedName(a.requestURI);
  return name && r?.resource ? `o:${resourceOf(a)}:${r.namespace ?? ''}/${name}` : undefined;
}

/** A context stored before a restart, as restore.ts hands it back to the clusterer. */
export interface RestoredContext {
  id: string;
  label: string;
  state: 'open' | 'closed';
  /** its members as events (compact: no bodies), in time order */
  events: LabeledEvent[];
  /** flags the stored summary had (some need bodies the members no longer carry) */
  flags: SecurityFlag[];
}

export interface Clusterer extends ClusterStage {
  /** contexts currently in memory (open + retained), for tests and diagnostics */
  readonly memoryEvents: number;
  /**
   * The memory the context documents do not carry, for the restart checkpoint: every session
   * table (see snapshot.ts) as plain values, contexts by id. Synchronous; encode it right
   * away (it shares objects with the live state). Take it right after `collect()`, when every
   * change is in the writes handed to the store.
   */
  snapshot(): ClusterSnapshot;
  /**
   * Puts contexts stored before a restart back (start-up, before any push): open ones stay
   * open, closed ones are retained for late events. An event whose auditID a restored
   * context already holds goes straight back to it (its receipt settles with that context's
   * next write; it is not counted twice). `watermark`: event time to continue from.
   * `state`: a `snapshot()` of the clusterer that stored them, taken back on top of the
   * contexts (entries whose contexts did not come back are dropped). Returns whether `state`
   * was taken back (false: none, or another version).
   */
  restore(contexts: RestoredContext[], watermark?: number, state?: unknown): boolean;
}

export function createClusterer(opts: ClustererOptions = {}): Clusterer {
  const idle = opts.idleMs ?? 60_000;
  const maxAge = opts.maxAgeMs ?? 300_000;
  const maxEvents = opts.maxEvents ?? 1000;
  const retainMs = opts.retainMs ?? idle;
  const maxRetained = opts.maxRetained ?? 20_000;
  const maxOpen = opts.maxOpen ?? 50_000;
  const threshold = opts.threshold ?? 50;
  const fallbackMs = opts.fallbackMs ?? 30_000;
  const burstMs = opts.triggerBurstMs ?? 2_000;
  const applyStepMs = opts.applyStepMs ?? 250;
  const commandStepMs = opts.commandStepMs ?? COMMAND_SESSION.commandStepMs;
  const perKey = opts.perKey ?? 8;
  const keepRaw = opts.keepRaw ?? false;
  const wallClock = opts.wallClock ?? Date.now;
  let lastPushWall = wallClock();
  const bgIdle = opts.backgroundIdleMs ?? 600_000;
  const bgMaxAge = opts.backgroundMaxAgeMs ?? 1_800_000;
  const bgWrite = opts.backgroundWriteMs ?? 10_000;
  const bgQuietWrite = opts.backgroundQuietWriteMs ?? 500;
  const idleOf = (c: Ctx) => (c.background ? bgIdle : idle);
  const maxAgeOf = (c: Ctx) => (c.background ? bgMaxAge : maxAge);
  const triggerRule = opts.triggerRule ?? true;
  const recencyBonus = opts.recencyBonus ?? 20;
  const weightOf: (k: string) => number = opts.weights
    ? (k) => (opts.weights as Record<string, number | undefined>)[k[0]!] ?? keyWeight(k)
    : keyWeight;

  const attribution = opts.attribution ?? ATTRIBUTION;
  // Session memory that outlives a burst of requests. Every piece of it is a session table
  // (snapshot.ts) listed in `tables` below, so it survives a restart: a new one is a
  // SessionMap (or a SessionTable) added to that list.
  const releases = new ReleaseTracker(attribution);
  /** the context of each live release session, by session id */
  const releaseCtx = new SessionMap<Ctx, Ctx>('releaseCtx', ctxCodec());
  /** each person's latest context that holds only their reads so far (an apply's first reads) */
  const lastRead = new SessionMap<{ c: Ctx; t: number }, Ctx>('lastRead', withCtxCodec());
  /** each person's latest request that named an object, and its context (see followUpOf) */
  const lastNamed = new SessionMap<{ key: string; c: Ctx; t: number }, Ctx>('lastNamed', withCtxCodec());
  /** each person's latest request, its client and when its response was sent, and its context (see commandOf) */
  const lastRequest = new SessionMap<{ c: Ctx; t: number; end: number; ua: string; ns?: string }, Ctx>('lastRequest', withCtxCodec());
  /** the context of each person's recent requests, by auditID: a re-sent request goes back to it */
  const personRequests = new SessionMap<Ctx, Ctx>('personRequests', ctxCodec());
  /** each person's apply of a set of manifests in progress (see applyOf) */
  const applies = new SessionMap<{ c: Ctx; last: number; ns?: string }, Ctx>('applies', withCtxCodec());
  /** the latest context of each release ("<ns>/<release>") */
  const releaseOf = new SessionMap<Ctx, Ctx>('releaseOf', ctxCodec());
  /** per namespace: the latest context a person acted in there, and when */
  const nsHome = new SessionMap<{ c: Ctx; t: number }, Ctx>('nsHome', withCtxCodec());
  /** the latest context in which a person changed a cluster-scoped object */
  let clusterHome: Ctx | undefined;
  const indexes = new Map<string, LabelIndex>();
  /** the open background window of each kind and identity ("<label>\0<user>") */
  const bgOpen = new SessionMap<Ctx, Ctx>('bgOpen', { enc: (c, refs) => refs.id(c), dec: (s, refs) => { const c = typeof s === 'string' ? refs.ctx(s) : undefined; return c?.state === 'open' ? c : undefined; } });
  /** open contexts, in creation order */
  const open = new Set<Ctx>();
  /** closed contexts kept for late events, in close order */
  const retained = new Map<string, Ctx>();
  /** closed contexts not yet collected */
  const closedDirty = new Set<Ctx>();
  let watermark = -Infinity;
  let pending = 0;
  let memoryEvents = 0;
  /** auditIDs held by restored contexts (a re-sent event goes back to its stored context) */
  const restoredIds = new Map<string, Ctx>();

  /** a re-sent event its restored context already holds: only its receipt rides along */
  function absorb(c: Ctx, e: LabeledEvent): void {
    c.dirty = true;
    c.newEvents++;
    pending++;
    if (e.receipt) c.receipts.set(e.receipt, (c.receipts.get(e.receipt) ?? 0) + 1);
    if (c.state === 'closed') closedDirty.add(c);
  }

  function indexOf(label: string): LabelIndex {
    let ix = indexes.get(label);
    if (!ix) { ix = { byKey: new Map(), recent: [], starts: new Map() }; indexes.set(label, ix); }
    return ix;
  }

  function register(ix: LabelIndex, c: Ctx, keys: string[]): void {
    for (const k of keys) {
      if (c.keys.has(k)) {
        // move to the end (most recent) if present
        const list = ix.byKey.get(k);
        if (list && list[list.length - 1] !== c) {
          const i = list.indexOf(c);
          if (i >= 0) { list.splice(i, 1); list.push(c); }
        }
        continue;
      }
      c.keys.add(k);
      let list = ix.byKey.get(k);
      if (!list) { list = []; ix.byKey.set(k, list); }
      list.push(c);
      if (list.length > perKey) {
        const dropped = list.shift()!;
        dropped.keys.delete(k);
      }
    }
    const r = ix.recent;
    const i = r.indexOf(c);
    if (i >= 0) r.splice(i, 1);
    r.push(c);
    if (r.length > RECENT) r.shift();
  }

  /** also finds `c` under another label's index: an apply's objects each carry their own operation's label, and so does their cascade */
  function registerAlso(label: string, c: Ctx, keys: string[]): void {
    if (label === c.label || c.background) return;
    (c.alsoIn ??= new Set()).add(label);
    const ix = indexOf(label);
    for (const k of keys) {
      let list = ix.byKey.get(k);
      if (!list) { list = []; ix.byKey.set(k, list); }
      if (list.includes(c)) continue;
      list.push(c);
      c.keys.add(k);
      if (list.length > perKey) list.shift();
    }
  }

  function unregister(c: Ctx): void {
    for (const l of c.alsoIn ?? []) {
      const ax = indexes.get(l);
      if (!ax) continue;
      for (const k of c.keys) {
        const list = ax.byKey.get(k);
        const i = list ? list.indexOf(c) : -1;
        if (i >= 0) list!.splice(i, 1);
        if (list && !list.length) ax.byKey.delete(k);
      }
      if (!ax.byKey.size && !ax.recent.length) indexes.delete(l);
    }
    c.alsoIn = undefined;
    const ix = indexes.get(c.label);
    if (!ix) return;
    for (const k of c.keys) {
      const list = ix.byKey.get(k);
      if (!list) continue;
      const i = list.indexOf(c);
      if (i >= 0) list.splice(i, 1);
      if (!list.length) ix.byKey.delete(k);
    }
    c.keys.clear();
    const i = ix.recent.indexOf(c);
    if (i >= 0) ix.recent.splice(i, 1);
    if (!ix.byKey.size && !ix.recent.length) indexes.delete(c.label);
  }

  function newCtx(e: LabeledEvent, background: boolean): Ctx {
    const c: Ctx = {
      id: e.audit.auditID, label: e.labelKey, background, events: [], start: e.time, last: e.time, firstUser: e.audit.user?.username ?? '', firstNs: e.audit.objectRef?.namespace, userLast: new Map(),
      keys: new Set(), lastTrigger: -Infinity, state: 'open', closedAt: Infinity, lastWrite: -Infinity, dirty: false, newEvents: 0, added: [], receipts: new Map(), raw: [],
    };
    open.add(c);
    mContexts.inc({ kind: background ? 'background' : 'trigger' });
    mOpen.set(open.size);
    return c;
  }

  function add(c: Ctx, e: LabeledEvent): void {
    c.events.push(slim(e));
    memoryEvents++;
    const u = e.audit.user?.username ?? '';
    if (isPerson(e.audit) && e.time > (c.userLast.get(u) ?? -Infinity)) c.userLast.set(u, e.time);
    if (e.time < c.start) c.start = e.time;
    if (e.time > c.last) c.last = e.time;
    c.dirty = true;
    c.newEvents++;
    c.added.push(e.audit.auditID);
    pending++;
    if (e.receipt) c.receipts.set(e.receipt, (c.receipts.get(e.receipt) ?? 0) + 1);
    if (keepRaw) c.raw.push({ auditID: e.audit.auditID, time: e.time, contextId: c.id, audit: e.audit });
    if (c.state === 'closed') {
      mLate.inc();
      closedDirty.add(c);
    } else if (c.events.length >= maxEvents) {
      close(c, 'size');
    }
  }

  function close(c: Ctx, reason: CloseReason, wm = watermark): void {
    if (c.state === 'closed') return;
    c.state = 'closed';
    c.reason = reason;
    c.closedAt = Math.max(wm, c.last);
    c.dirty = true;
    open.delete(c);
    if (c.bgKey && bgOpen.get(c.bgKey) === c) bgOpen.delete(c.bgKey);
    retained.set(c.id, c);
    closedDirty.add(c);
    mClosed.inc({ reason });
    mOpen.set(open.size);
  }

  function joinable(c: Ctx, t: number): boolean {
    if (c.state === 'closed' && (c.reason === 'size' || c.reason === 'memory' || c.reason === 'superseded')) return false;
    if (c.state === 'open' && c.events.length >= maxEvents) return false;
    if (t - c.last > idleOf(c)) return false;
    if (t - c.start > maxAgeOf(c)) return false;
    if (c.start - t > idleOf(c)) return false;
    return true;
  }

  function pushBackground(e: LabeledEvent): void {
    const user = e.audit.user?.username ?? '';
    const key = `${e.labelKey}\u0000${user}`;
    let c = bgOpen.get(key);
    if (c && !joinable(c, e.time)) {
      if (e.time >= c.last) { close(c, e.time - c.start > bgMaxAge ? 'age' : 'idle'); c = undefined; }
      else c = undefined; // a late event from before this window: its own context
    }
    if (!c) {
      c = newCtx(e, true);
      if (!bgOpen.has(key)) { c.bgKey = key; bgOpen.set(key, c); }
    }
    add(c, e);
  }

  /** a context still in memory that a release's or namespace's next event may join */
  function live(c: Ctx | undefined): c is Ctx {
    return c !== undefined && (c.state === 'open' || retained.has(c.id)) && c.reason !== 'size' && c.reason !== 'memory' && c.events.length < maxEvents;
  }

  /** joins `c` (of any label: one action, one context) and indexes the event's keys under the context's label */
  function join(c: Ctx, e: LabeledEvent, own: string[]): void {
    add(c, e);
    const a = e.audit;
    if (!c.changes && personChange(a)) c.changes = true;
    noteNamespaceLife(c, e);
    if (!a.objectRef?.namespace && a.objectRef?.resource && MUTATING.has(a.verb) && (a.responseStatus?.code ?? 0) < 400 && isPerson(a)) {
      c.clusterChange = Math.max(c.clusterChange ?? -Infinity, e.time);
      clusterHome = c;
    }
    if (c.state === 'open' || retained.has(c.id)) register(indexOf(c.label), c, own);
    noteBinding(indexOf(c.label), c, e);
  }

  function noteNamespaceLife(c: Ctx, e: LabeledEvent): void {
    const ch = isPerson(e.audit) ? namespaceChange(e.audit) : undefined;
    if (ch) (c.nsLife ??= new Map()).set(ch.ns, { verb: ch.verb, t: e.time });
  }

  /**
   * Rule "namespace-link": the namespace key (n:<ns>) links an event inside the namespace to
   * the context that created or deleted it only where Kubernetes makes that the cause: the
   * control plane filling a namespace created at most `spawnBurstMs` earlier (its default
   * account, CA bundle), or anything in a namespace being deleted (the namespace controller
   * empties it) within `originHorizonMs`. A read or relabel of the namespace, or the next
   * command's work in it, is not linked by it.
   */
  function namespaceLinks(c: Ctx, ns: string, e: LabeledEvent): boolean {
    const l = c.nsLife?.get(ns);
    if (!l || e.time < l.t) return false;
    if (l.verb === 'delete') return e.time - l.t <= attribution.originHorizonMs;
    return e.time - l.t <= attribution.spawnBurstMs && isNamespaceBirth(e.audit);
  }

  /** a person acted in `ns` in context `c`: the namespace's unlinked control-plane work follows it (not their reads: they cause none) */
  function noteHome(ns: string | undefined, c: Ctx, t: number): void {
    if (!ns || !c.changes) return;
    nsHome.delete(ns);
    nsHome.set(ns, { c, t });
    if (nsHome.size > 10_000) nsHome.delete(nsHome.keys().next().value as string);
  }

  /** the action an unlinked component event follows from: a release named in it, else the latest person action in its namespace */
  function homeOf(e: LabeledEvent): Ctx | undefined {
    // a workload's own service account (an operator) reconciles on its own schedule: not part of the namespace's latest action
    if (!isSystemUser(e.audit.user?.username ?? '')) return undefined;
    const m = releases.component(e.audit, e.time);
    const rc = m ? releaseHome(releaseCtx.get(m.session.id)) : undefined;
    if (live(rc)) return rc;
    const ns = e.audit.objectRef?.namespace;
    // a cluster-scoped change right after a person's cluster-scoped change (the aggregation controller after a ClusterRole)
    if (!ns && e.audit.objectRef?.resource && MUTATING.has(e.audit.verb) && live(clusterHome)
      && e.time - (clusterHome.clusterChange ?? -Infinity) <= attribution.followNsMs && e.time >= clusterHome.start) return clusterHome;
    const h = ns ? nsHome.get(ns) : undefined;
    if (h && e.time - h.t <= attribution.originHorizonMs && e.time >= h.c.start && live(h.c)) return h.c;
    return undefined;
  }

  /** a release command's first change takes the release over: the controllers now roll out its revision, so the previous command's context closes */
  function supersedeRelease(c: Ctx, t: number): void {
    const prev = c.releasePrev;
    if (!prev || !c.changes) return;
    c.releasePrev = undefined;
    if (prev.state === 'open' && prev.start < t) close(prev, 'superseded');
  }

  /** the context a release's cascade follows: its latest command that changed something */
  function releaseHome(c: Ctx | undefined): Ctx | undefined {
    return c && !c.changes && live(c.releasePrev) ? c.releasePrev : c;
  }

  /** a person's request in a helm release session: the release's context */
  function pushRelease(e: LabeledEvent, id: string, release: string, ns: string): void {
    let c = releaseCtx.get(id);
    if (!live(c)) {
      c = newCtx(e, false);
      c.triggerUser = e.audit.user?.username ?? '';
      c.triggerNs = ns;
      c.release = release;
      // the next command on a release (upgrade, rollback, uninstall) takes it over once it
      // changes something (see supersedeRelease); a command that only reads (`helm history`,
      // `status`, `get`) leaves the previous command's cascade where it is
      const prev = releaseOf.get(`${ns}/${release}`);
      // (only a command that changed something: a chain of reads pins no old context)
      if (prev && prev !== c) c.releasePrev = prev.changes ? prev : prev.releasePrev;
      releaseOf.delete(`${ns}/${release}`);
      releaseOf.set(`${ns}/${release}`, c);
      if (releaseOf.size > 10_000) releaseOf.delete(releaseOf.keys().next().value as string);
      releaseCtx.set(id, c);
      if (releaseCtx.size > 10_000) releaseCtx.delete(releaseCtx.keys().next().value as string);
    }
    c.lastTrigger = e.time;
    join(c, e, eventKeys(e.audit).own);
    supersedeRelease(c, e.time);
    noteHome(ns, c, e.time);
    // another namespace the release writes to (a leader-election Role, a monitoring Service in
    // kube-system) becomes its home only through a workload there, whose pods carry no link
    const other = e.audit.objectRef?.namespace;
    if (other !== ns && startsUnlinkedWork(e.audit)) noteHome(other, c, e.time);
  }

  /** a component's event nothing links to an action: routine work of its identity */
  function pushRoutine(e: LabeledEvent): void {
    pushBackground({ ...e, label: ROUTINE_LABEL, labelKey: ROUTINE_KEY });
  }

  /**
   * a person's request while their apply of a set of manifests goes on (`kubectl apply -f
   * <dir>`, `-k`, a GitOps sync): its next object's read and write, the prune's lists and
   * deletes; each within `applyStepMs` of their previous request there, in the apply's
   * namespace or cluster scope
   */
  function applyOf(e: LabeledEvent): Ctx | undefined {
    const user = e.audit.user?.username ?? '';
    const s = applies.get(user);
    if (!s || e.time - s.last > applyStepMs || !live(s.c) || !applyStep(e.audit)) return undefined;
    const ns = e.audit.objectRef?.namespace;
    if (ns !== undefined && s.ns !== undefined && ns !== s.ns) return undefined;
    return s.c;
  }

  /** a request an apply sends: an object's read by name before its write, the write, the prune's selector lists and deletes */
  function applyStep(a: AuditEvent): boolean {
    if (isManifestApply(a)) return true;
    if (a.verb === 'get') return Boolean(a.objectRef?.name);
    if (a.verb === 'list') return a.requestURI?.includes('labelSelector=') ?? false;
    return a.verb === 'delete';
  }

  function noteApply(e: LabeledEvent, c: Ctx): void {
    const user = e.audit.user?.username ?? '';
    const prev = applies.get(user);
    if (prev?.c !== c || !applyStep(e.audit) || e.time - prev.last > applyStepMs) return;
    prev.last = Math.max(prev.last, e.time);
    if (prev.ns === undefined) prev.ns = e.audit.objectRef?.namespace;
  }

  /**
   * Rule "command-follow-up": a person's request on the object their previous request named,
   * within `sessionGapMs` of it, is the same command whatever the two requests' labels: kubectl
   * reads an object and then patches it (`label`, `scale`, `set image`), or reads or deletes it
   * and then watches it by field selector (`rollout status`, `wait`, `delete --wait`), back to
   * back; a new kubectl process needs longer than that to start and send its first request.
   */
  function followUpOf(e: LabeledEvent, key: string | undefined): Ctx | undefined {
    if (!key) return undefined;
    const prev = lastNamed.get(e.audit.user?.username ?? '');
    if (!prev || prev.key !== key || e.time - prev.t > attribution.sessionGapMs || e.time < prev.t) return undefined;
    return live(prev.c) && joinable(prev.c, e.time) ? prev.c : undefined;
  }

  function noteNamed(e: LabeledEvent, key: string | undefined, c: Ctx): void {
    if (!key || c.background) return;
    const user = e.audit.user?.username ?? '';
    lastNamed.delete(user);
    lastNamed.set(user, { key, c, t: e.time });
    if (lastNamed.size > 10_000) lastNamed.delete(lastNamed.keys().next().value as string);
  }

  /**
   * Rule "command-session": a person's request from the same client (user agent) sent within
   * `commandStepMs` after their previous request returned is the same command, whatever the two
   * requests name: kubectl sends a command's requests one after another, each as soon as the
   * previous response is in (`delete a b`, `delete -f <dir>`, `expose` reading the object it
   * exposes, `diff`, `delete namespace` then its watch), while the next command is a new process
   * that has to start first. Only for clients that run one process per command (see
   * isCommandClient): helm goes by its release sessions, a GitOps controller syncs several
   * applications at once.
   */
  function commandOf(e: LabeledEvent): Ctx | undefined {
    const a = e.audit;
    const prev = lastRequest.get(a.user?.username ?? '');
    // (a request sent before the previous one returned is another process: a second terminal next to `logs -f` or `exec`)
    if (!prev || prev.ua !== (a.userAgent ?? '') || e.time < prev.end || e.time - prev.end > commandStepMs) return undefined;
    // (one command works in one namespace, `-n`, or at cluster scope: another namespace this soon is a concurrent command)
    if (commandNamespace(a) !== prev.ns) return undefined;
    if (!isCommandClient(a.userAgent)) return undefined;
    return live(prev.c) && joinable(prev.c, e.time) ? prev.c : undefined;
  }

  /** the namespace a request works in: its own, or the namespace object it names; undefined at cluster scope */
  function commandNamespace(a: AuditEvent): string | undefined {
    const r = a.objectRef;
    return r?.namespace ?? (r?.resource === 'namespaces' && !r.apiGroup ? r.name : undefined);
  }

  function noteRequest(e: LabeledEvent, c: Ctx): void {
    if (c.background) return;
    const a = e.audit;
    personRequests.set(a.auditID, c);
    if (personRequests.size > 10_000) personRequests.delete(personRequests.keys().next().value as string);
    const user = a.user?.username ?? '';
    const prev = lastRequest.get(user);
    // (a watch's final stage comes when it ends, long after the requests that followed it)
    if (prev && e.time < prev.t) return;
    const done = a.stageTimestamp ? parseAuditTime(a.stageTimestamp) : NaN;
    lastRequest.delete(user);
    const ns = commandNamespace(a);
    lastRequest.set(user, { c, t: e.time, end: Number.isFinite(done) && done >= e.time ? done : e.time, ua: a.userAgent ?? '', ...(ns !== undefined ? { ns } : {}) });
    if (lastRequest.size > 10_000) lastRequest.delete(lastRequest.keys().next().value as string);
  }

  function pushTrigger(e: LabeledEvent): void {
    const isPersonEvent = triggerRule && isPerson(e.audit);
    if (isPersonEvent) {
      // the same request again (a peer re-sending what was not acknowledged): back to the context that holds it
      const again = personRequests.get(e.audit.auditID);
      if (again && live(again)) { absorb(again, e); return; }
      // `helm list` reads every release record of a namespace: its own command, no release's
      const m = isReleaseListing(e.audit) ? undefined : releases.person(e.audit, e.time);
      if (m) { pushRelease(e, m.session.id, m.session.release, m.session.ns); return; }
      let ac = applyOf(e);
      if (!ac && isManifestApply(e.audit)) {
        // an apply begins: in the command that just read its objects (kubectl reads each object first), else afresh
        const user = e.audit.user?.username ?? '';
        const r = lastRead.get(user);
        ac = commandOf(e) ?? (r && e.time - r.t <= burstMs && live(r.c) && r.c.triggerUser === undefined ? r.c : newCtx(e, false));
        ac.triggerUser = user; ac.triggerNs = e.audit.objectRef?.namespace;
        applies.set(user, { c: ac, last: e.time, ns: e.audit.objectRef?.namespace });
        if (applies.size > 10_000) applies.delete(applies.keys().next().value as string);
      }
      if (ac) {
        const own = eventKeys(e.audit).own;
        join(ac, e, own);
        if (ac.state === 'open') registerAlso(e.labelKey, ac, own);
        noteApply(e, ac); noteHome(e.audit.objectRef?.namespace, ac, e.time); noteRequest(e, ac); return;
      }
    }
    const ix = indexOf(e.labelKey);
    const { own, probe } = eventKeys(e.audit);
    const trig = triggerRule && isTriggerLike(e);
    const user = e.audit.user?.username ?? '';
    const person = triggerRule && !trig && isPersonEvent;
    const named = isPersonEvent ? namedObjectOf(e.audit) : undefined;
    const follow = followUpOf(e, named) ?? (isPersonEvent ? commandOf(e) : undefined);
    // helm sends one release as a burst of creates/updates; kubectl sends one per command
    const multi = trig && clientFamily(e.audit.userAgent) === 'helm';
    const ns = e.audit.objectRef?.namespace;
    const tk = trig ? triggerKeyOf(e.audit) : undefined;
    const t = e.time;
    const cands = new Set<Ctx>();
    for (const k of own) { const l = ix.byKey.get(k); if (l) for (const c of l) cands.add(c); }
    for (const k of probe) { const l = ix.byKey.get(k); if (l) for (const c of l) cands.add(c); }
    for (const c of ix.recent) cands.add(c);

    const started = kubeletStart(ix, e);
    if (started) cands.add(started);

    let best: Ctx | undefined; let bestScore = -1;
    let fallback: Ctx | undefined; let fallbackScore = -1;
    if (follow) { cands.clear(); best = follow; bestScore = Infinity; }
    // rule "command-session": a kubectl request outside its command's session (`follow`) is the
    // person's next command: it joins none of their earlier contexts, whatever it names, unless
    // it retries the same request that failed (client-go waits Retry-After before it retries)
    // (`helm list` too: it belongs to no release, and helm's other requests go by their release session)
    const nextCommand = isPersonEvent && (isCommandClient(e.audit.userAgent) || isReleaseListing(e.audit));
    const retries = (c: Ctx) => tk !== undefined && c.triggerUser === user && c.triggerKey === tk && t - c.lastTrigger <= burstMs && c.triggerRequest === requestOf(e.audit);
    for (const c of cands) {
      if (!joinable(c, t)) continue;
      if (nextCommand && !(trig && retries(c))) continue;
      // rule "reads-cause-nothing": controllers and nodes act on changes; a context holding only a person's reads has none to follow
      if (!isPersonEvent && !c.changes) continue;
      // a new trigger starts a new action, except right after the same user's reads (kubectl
      // apply GETs the object first, rollout undo lists ReplicaSets), a retry of the same
      // request, or the next request of one helm release (same namespace)
      if (trig && !(c.triggerUser === undefined
        ? c.firstUser === user && !c.changes && t - (c.userLast.get(user) ?? -Infinity) <= burstMs
        : c.triggerUser === user && (tk !== undefined && c.triggerKey === tk
          ? retries(c) // the same failed request again (a retry)
          : multi && c.triggerNs === ns && t - (c.userLast.get(user) ?? -Infinity) <= burstMs))) continue;
      let s = 0; let objectLink = false;
      for (const k of own) if (c.keys.has(k)) { s += weightOf(k); if (k[0] === 'o' || k[0] === 'u') objectLink = true; }
      for (const k of probe) {
        if (!c.keys.has(k)) continue;
        if (k[0] === 'n') { if (!namespaceLinks(c, k.slice(2), e)) continue; objectLink = true; }
        s += weightOf(k);
      }
      // a person's other requests belong to their own action: the object it acted on, or right
      // after their last request (a request on another object starts their next action)
      if (person) {
        const owner = c.triggerUser ?? c.firstUser;
        if (owner !== user) continue;
        const since = t - (c.userLast.get(user) ?? -Infinity);
        const home = c.triggerNs ?? c.firstNs;
        // without a link to the context's objects: only right after their last request there,
        // in the same namespace (a new command elsewhere is a new action)
        if (!objectLink && (since > burstMs || (ns !== undefined && home !== undefined && ns !== home))) continue;
        // a read well after their change is their next command (`rollout status`, `get`, `helm
        // list` after an install), not part of the change; a reading command's own reads go on
        // (a change's own reads come right after it: kubectl's within `sessionGapMs`, helm's go by its release session)
        if (objectLink && c.changes && since > attribution.sessionGapMs) continue;
        s += 40 * Math.exp(-Math.abs(since) / 1_000); // their latest action first
      }
      if (c === started) s += weightOf('o');
      const gap = Math.abs(t - c.last);
      const recency = recencyBonus * Math.exp(-gap / 3_000);
      const total = s + recency;
      if (total > bestScore || (total === bestScore && best && c.last > best.last)) { best = c; bestScore = total; }
      // an unlinked cascade event may fall back on a recent context of its label, in its own namespace only
      // (a cluster-scoped change only right after the context's last event: the aggregation controller after a ClusterRole)
      const sameNs = ns === undefined ? MUTATING.has(e.audit.verb) && (gap <= attribution.followNsMs || t - (c.clusterChange ?? -Infinity) <= attribution.followNsMs) : (c.triggerNs ?? c.firstNs) === ns;
      if (!trig && !person && sameNs && gap <= fallbackMs && (total > fallbackScore || (total === fallbackScore && fallback && c.last > fallback.last))) {
        fallback = c; fallbackScore = total;
      }
    }
    let c: Ctx;
    if (best && bestScore >= threshold) c = best;
    else {
      const home = !trig && !isPersonEvent ? homeOf(e) : undefined;
      if (home) { join(home, e, own); return; }
      if (fallback) c = fallback;
      // controllers and nodes never start an action
      else if (triggerRule && !isPersonEvent) { pushRoutine(e); return; }
      else c = newCtx(e, false);
    }
    if (triggerRule && isTriggerLike(e)) {
      if (c.triggerUser === undefined) { c.triggerUser = user; c.triggerNs = e.audit.objectRef?.namespace; }
      // (clients retry a request that failed; the same request after a success is the next command)
      if (c.triggerUser === user) { c.lastTrigger = t; c.triggerRequest = (e.audit.responseStatus?.code ?? 500) >= 400 ? requestOf(e.audit) : undefined; }
      // (a label or annotation change is no new work for the controllers: the rollout in flight stays with its action)
      if (!c.triggerKey && tk && !changesOnlyMetadata(e.audit)) {
        // a new action on the same object supersedes the previous one of this label: the
        // controllers now work for the new one (e.g. a second `kubectl set image` mid-rollout)
        c.triggerKey = tk;
        for (const old of [...(ix.byKey.get(tk) ?? [])]) {
          if (old !== c && old.state === 'open' && old.triggerKey === tk && old.start < t) close(old, 'superseded');
        }
      }
    }
    join(c, e, own);
    if (follow && c.state === 'open') registerAlso(e.labelKey, c, own);
    if (isPersonEvent) {
      noteNamed(e, named, c); noteRequest(e, c);
      // (a relabel of a workload gives its namespace's controllers no work: their work goes on following the previous action)
      if (!causesNoControllerWork(e.audit)) noteHome(ns, c, t);
      noteApply(e, c);
      if (c.triggerUser === undefined) { lastRead.delete(user); lastRead.set(user, { c, t }); if (lastRead.size > 10_000) lastRead.delete(lastRead.keys().next().value as string); }
    }
  }

  /** the context whose pod a kubelet request most likely belongs to (see LabelIndex.starts) */
  function kubeletStart(ix: LabelIndex, e: LabeledEvent): Ctx | undefined {
    const a = e.audit;
    const user = a.user?.username ?? '';
    const ns = a.objectRef?.namespace;
    if (!ns || !user.startsWith('system:node:')) return undefined;
    // without the binding's node (Metadata level), the pods bound in the namespace
    const node = user.slice('system:node:'.length);
    const own = ix.starts.get(`${node}:${ns}`);
    const st = own && (own.pending.length || own.last) ? own : ix.starts.get(`*:${ns}`);
    if (!st) return undefined;
    if (a.objectRef?.resource === 'serviceaccounts' && a.objectRef.subresource === 'token' && a.verb === 'create') {
      while (st.pending.length && e.time - st.pending[0]!.t > START_WAIT) st.pending.shift();
      const next = st.pending.shift();
      if (next) st.last = { c: next.c, t: e.time };
      return next?.c;
    }
    if (!a.objectRef?.name && (a.verb === 'list' || a.verb === 'watch') && st.last && e.time - st.last.t <= START_FOLLOW) {
      st.last.t = e.time;
      return st.last.c;
    }
    return undefined;
  }

  /** forgets pod starts nobody picked up (so they hold no evicted context) */
  function pruneStarts(wm: number): void {
    for (const ix of indexes.values()) {
      for (const [k, st] of ix.starts) {
        while (st.pending.length && wm - st.pending[0]!.t > START_WAIT) st.pending.shift();
        if (st.last && wm - st.last.t > START_FOLLOW) st.last = undefined;
        if (!st.pending.length && !st.last) ix.starts.delete(k);
      }
    }
  }

  function noteBinding(ix: LabelIndex, c: Ctx, e: LabeledEvent): void {
    const a = e.audit;
    const target = a.requestObject?.target?.name;
    if (a.objectRef?.subresource !== 'binding' || a.objectRef.resource !== 'pods' || !a.objectRef.namespace) return;
    if ((a.responseStatus?.code ?? 0) >= 400) return;
    const k = `${typeof target === 'string' ? target : '*'}:${a.objectRef.namespace}`;
    let st = ix.starts.get(k);
    if (!st) { st = { pending: [] }; ix.starts.set(k, st); }
    st.pending.push({ c, t: e.time });
    if (st.pending.length > 64) st.pending.shift();
  }

  /**
   * Evicts every retained context past `retainMs` (and the oldest beyond `maxRetained`). The
   * list is in close order, which is not close-time order (contexts taken back at a restart
   * come in the store's order; a watermark that followed the wall clock while the input was
   * quiet is ahead of the next events), so a young context does not end the scan.
   */
  function evictRetained(wm: number): void {
    for (const [id, c] of retained) {
      const over = retained.size > maxRetained;
      if (!over && wm - c.closedAt <= retainMs) continue;
      if (c.dirty) continue; // written first, evicted on a later collect
      retained.delete(id);
      unregister(c);
      c.releasePrev = undefined;
      memoryEvents -= c.events.length;
      if (c.storedFlags) for (const e of c.events) if (restoredIds.get(e.audit.auditID) === c) restoredIds.delete(e.audit.auditID);
    }
  }

  function toWrite(c: Ctx, wm: number): ContextWrite {
    c.lastWrite = wm;
    const doc = summarize(c.id, c.events, c.state, opts.detections);
    if (c.storedFlags?.length) doc.flags = FLAG_ORDER.filter((f) => doc.flags.includes(f) || c.storedFlags!.includes(f));
    const w: ContextWrite = {
      doc,
      version: 2 * c.events.length + (c.state === 'closed' ? 1 : 0),
      newEvents: c.newEvents,
      added: c.added,
      receipts: [...c.receipts].map(([receipt, n]) => ({ receipt, n })),
    };
    if (keepRaw) w.raw = c.raw;
    pending -= c.newEvents;
    c.dirty = false; c.newEvents = 0; c.added = []; c.receipts = new Map(); c.raw = [];
    return w;
  }

  /** `c`'s id while it is in memory (open or retained), for the session tables */
  function inMemory(c: Ctx): string | undefined {
    return open.has(c) || retained.get(c.id) === c ? c.id : undefined;
  }

  /** what a context knows beyond its members (its stored document), by id */
  interface CtxExtra {
    n: number; reason?: CloseReason; release?: string; also?: Array<[string, string[]]>; clusterChange?: number;
    triggerUser?: string; triggerNs?: string; triggerKey?: string; lastTrigger?: number; closedAt?: number; lastWrite?: number;
    firstUser?: string; firstNs?: string; bgKey?: string; userLast?: Array<[string, number]>;
    triggerRequest?: string; changes?: boolean; releasePrev?: string; nsLife?: Array<[string, 'create' | 'delete', number]>;
  }
  const fin = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);
  const contextsTable: SessionTable<Ctx> = {
    name: 'contexts',
    snapshot(): Array<[string, CtxExtra]> {
      const out: Array<[string, CtxExtra]> = [];
      for (const c of [...open, ...retained.values()]) {
        const also = c.alsoIn && [...c.alsoIn].map((l): [string, string[]] => {
          const ax = indexes.get(l);
          return [l, [...c.keys].filter((k) => ax?.byKey.get(k)?.includes(c))];
        });
        out.push([c.id, {
          n: c.events.length, reason: c.reason, release: c.release, also, clusterChange: c.clusterChange,
          triggerUser: c.triggerUser, triggerNs: c.triggerNs, triggerKey: c.triggerKey, lastTrigger: fin(c.lastTrigger),
          closedAt: fin(c.closedAt), lastWrite: fin(c.lastWrite), firstUser: c.firstUser, firstNs: c.firstNs, bgKey: c.bgKey, userLast: [...c.userLast],
          triggerRequest: c.triggerRequest, changes: c.changes, releasePrev: c.releasePrev && inMemory(c.releasePrev),
          nsLife: c.nsLife && [...c.nsLife].map(([ns, l]): [string, 'create' | 'delete', number] => [ns, l.verb, l.t]),
        }]);
      }
      return out;
    },
    restore(state, refs) {
      if (!Array.isArray(state)) return;
      for (const [id, x] of state as Array<[string, CtxExtra]>) {
        const c = typeof id === 'string' && x && typeof x === 'object' ? refs.ctx(id) : undefined;
        if (!c) continue;
        // the same members as when the snapshot was taken: it knows this context exactly;
        // more (stored after it): what the members tell is newer, the snapshot fills in
        const exact = x.n === c.events.length;
        if (c.state === 'closed' && x.reason) c.reason = x.reason;
        if (x.release !== undefined) c.release = x.release;
        if (x.firstUser !== undefined) c.firstUser = x.firstUser;
        c.firstNs = x.firstNs ?? c.firstNs;
        if (exact || x.triggerUser !== undefined) { c.triggerUser = x.triggerUser; c.triggerNs = x.triggerNs; }
        if (exact || x.triggerKey !== undefined) c.triggerKey = x.triggerKey;
        if (x.lastTrigger !== undefined) c.lastTrigger = exact ? x.lastTrigger : Math.max(c.lastTrigger, x.lastTrigger);
        if (x.clusterChange !== undefined) c.clusterChange = Math.max(c.clusterChange ?? -Infinity, x.clusterChange);
        if (exact && x.lastWrite !== undefined) c.lastWrite = x.lastWrite;
        if (exact && c.state === 'closed' && x.closedAt !== undefined) c.closedAt = Math.max(c.last, x.closedAt);
        if (x.bgKey !== undefined) c.bgKey = x.bgKey;
        for (const [u, t] of x.userLast ?? []) if (t > (c.userLast.get(u) ?? -Infinity)) c.userLast.set(u, t);
        for (const [l, keys] of x.also ?? []) registerAlso(l, c, keys);
        if (x.triggerRequest !== undefined) c.triggerRequest = x.triggerRequest;
        if (x.changes) c.changes = true;
        if (typeof x.releasePrev === 'string') c.releasePrev = refs.ctx(x.releasePrev) ?? c.releasePrev;
        for (const [ns, verb, t] of Array.isArray(x.nsLife) ? x.nsLife : []) {
          if (typeof ns === 'string' && (verb === 'create' || verb === 'delete') && Number.isFinite(t)) (c.nsLife ??= new Map()).set(ns, { verb, t });
        }
      }
    },
  };
  /** pods bound to a node and not yet started, per label (see LabelIndex.starts) */
  const startsTable: SessionTable<Ctx> = {
    name: 'starts',
    snapshot(refs) {
      const out: Array<[string, string, Array<[string, number]>, [string, number] | null]> = [];
      for (const [label, ix] of indexes) {
        for (const [k, st] of ix.starts) {
          const pending = st.pending.flatMap((p): Array<[string, number]> => { const id = refs.id(p.c); return id === undefined ? [] : [[id, p.t]]; });
          const lid = st.last && refs.id(st.last.c);
          out.push([label, k, pending, lid ? [lid, st.last!.t] : null]);
        }
      }
      return out;
    },
    restore(state, refs) {
      for (const ix of indexes.values()) ix.starts.clear();
      if (!Array.isArray(state)) return;
      for (const [label, k, pending, last] of state as Array<[string, string, Array<[string, number]>, [string, number] | null]>) {
        const st: { pending: Array<{ c: Ctx; t: number }>; last?: { c: Ctx; t: number } } = { pending: [] };
        for (const [id, t] of pending ?? []) { const c = refs.ctx(id); if (c) st.pending.push({ c, t }); }
        const lc = last ? refs.ctx(last[0]) : undefined;
        if (lc) st.last = { c: lc, t: last![1] };
        if (st.pending.length || st.last) indexOf(label).starts.set(k, st);
      }
    },
  };
  /** every piece of session memory, in restore order (contexts first: the others refer to them) */
  const tables: SessionTable<Ctx>[] = [
    contextsTable,
    valueTable('releases', () => releases.snapshotState(), (s) => releases.restoreState(s as Parameters<ReleaseTracker['restoreState']>[0])),
    releaseCtx, releaseOf, lastRead, lastNamed, lastRequest, personRequests, applies, nsHome, bgOpen, startsTable,
    valueTable('clusterHome', (refs) => (clusterHome && refs.id(clusterHome)) ?? null, (s, refs) => { clusterHome = typeof s === 'string' ? refs.ctx(s) : undefined; }),
  ];

  return {
    push(events: LabeledEvent[]): void {
      if (events.length) lastPushWall = wallClock();
      for (const e of events) {
        if (!Number.isFinite(e.time)) throw new Error(`event ${e.audit?.auditID} has no valid time`);
        if (e.time > watermark) watermark = e.time;
        const known = restoredIds.size ? restoredIds.get(e.audit.auditID) : undefined;
        if (known) { absorb(known, e); continue; }
        if (e.label.kind === 'background') pushBackground(e);
        else pushTrigger(e);
      }
      if (open.size > maxOpen) {
        const byActivity = [...open].sort((a, b) => a.last - b.last);
        for (const c of byActivity.slice(0, open.size - maxOpen)) close(c, 'memory');
      }
    },

    collect(wm?: number, force = false): ContextWrite[] {
      const quiet = Math.max(0, wallClock() - lastPushWall);
      const w = wm ?? (watermark === -Infinity ? watermark : watermark + quiet);
      for (const c of [...open]) {
        if (force) close(c, 'force', w);
        else if (w - c.last > idleOf(c)) close(c, 'idle', w);
        else if (w - c.start > maxAgeOf(c)) close(c, 'age', w);
      }
      const out: ContextWrite[] = [];
      for (const c of closedDirty) if (c.dirty) out.push(toWrite(c, w));
      closedDirty.clear();
      for (const c of open) {
        if (!c.dirty) continue;
        // long-lived noise aggregates are rewritten less often (each write is the whole document)
        if (c.background && w - c.lastWrite < bgWrite && quiet < bgQuietWrite) continue;
        out.push(toWrite(c, w));
      }
      evictRetained(w);
      pruneStarts(w);
      return out;
    },

    snapshot(): ClusterSnapshot {
      return snapshotTables(tables, { id: inMemory, ctx: () => undefined }, watermark);
    },

    restore(contexts: RestoredContext[], wm?: number, state?: unknown): boolean {
      const members: Array<{ c: Ctx; e: LabeledEvent }> = [];
      const made: Array<{ c: Ctx; r: RestoredContext }> = [];
      for (const r of contexts) {
        if (!r.events.length || retained.has(r.id) || r.events.some((e) => restoredIds.has(e.audit.auditID))) continue;
        const first = r.events[0]!;
        const background = r.label.startsWith('background ');
        const c = newCtx({ ...first, labelKey: r.label }, background);
        c.id = r.id; // the id it was stored under (its first member to arrive, not the earliest)
        c.storedFlags = r.flags;
        made.push({ c, r });
        for (const e of r.events) {
          c.events.push(e);
          if (!c.changes && personChange(e.audit)) c.changes = true;
          noteNamespaceLife(c, e);
          memoryEvents++;
          restoredIds.set(e.audit.auditID, c);
          members.push({ c, e });
          const u = e.audit.user?.username ?? '';
          if (isPerson(e.audit) && e.time > (c.userLast.get(u) ?? -Infinity)) c.userLast.set(u, e.time);
          if (e.time < c.start) c.start = e.time;
          if (e.time > c.last) c.last = e.time;
          if (!background && triggerRule && isTriggerLike(e)) {
            const tk = triggerKeyOf(e.audit);
            if (c.triggerUser === undefined) { c.triggerUser = u; c.triggerNs = e.audit.objectRef?.namespace; }
            if (c.triggerUser === u) c.lastTrigger = e.time;
            if (!c.triggerKey && tk) c.triggerKey = tk;
          }
        }
        if (r.state === 'closed') {
          c.state = 'closed'; c.reason = 'idle'; c.closedAt = c.last;
          open.delete(c);
          retained.set(c.id, c);
        }
        c.lastWrite = c.last;
      }
      // the link keys in the order the events came (event time, across contexts), as before the
      // restart: each key's list keeps its most recent contexts, and so does each label's `recent`
      members.sort((x, y) => x.e.time - y.e.time);
      for (const { c, e } of members) {
        if (!c.background) register(indexOf(c.label), c, e.linkKeys?.length ? [...eventKeys(e.audit).own, ...e.linkKeys] : eventKeys(e.audit).own);
      }
      let resumed = false;
      if (state !== undefined) {
        const byId = new Map<string, Ctx>();
        for (const c of open) byId.set(c.id, c);
        for (const [id, c] of retained) byId.set(id, c);
        resumed = restoreTables(tables, state, { id: inMemory, ctx: (id) => byId.get(id) });
      }
      // open background windows the snapshot does not know (opened after it was taken, or no snapshot)
      for (const { c, r } of made) {
        if (!c.background || r.state !== 'open') continue;
        const key = c.bgKey ?? `${r.label}\u0000${r.events[0]!.audit.user?.username ?? ''}`;
        if (!bgOpen.has(key)) { c.bgKey = key; bgOpen.set(key, c); }
      }
      if (wm !== undefined && wm > watermark) { watermark = wm; lastPushWall = wallClock(); }
      mOpen.set(open.size);
      return resumed;
    },

    get watermark() { return watermark; },
    get openContexts() { return open.size; },
    get retainedContexts() { return retained.size; },
    get pending() { return pending; },
    get memoryEvents() { return memoryEvents; },
  };
}
