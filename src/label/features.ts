/**
 * Feature extraction: each audit event → a list of categorical tokens "field=value".
 *
 * Structural fields only (objectRef resource/subresource/group, namespaced or not, verb, user
 * class, groups, parsed user agent, request/response kinds, ownerReference kinds, involved
 * object kind, event reason, authorization decision, response code). Names and UIDs are never
 * tokens. They are used, through a bounded LRU of recently touched objects, to derive
 * name-free *relational* tokens: what kind of request last touched the object this event
 * links to (itself, an owner, the object an Event is about, the Service of an Endpoints), how
 * long ago, and the operation that cascade is attributed to; the previous request of the
 * same user; the last event in the same namespace; for kubelets, the last pod bound to their node. The extractor is stateful and
 * must see events in stream order; the same code runs in training and in the live stage.
 */
import type { AuditEvent } from '../types/audit.ts';
import { labelKey, verbClassOf } from '../types/label.ts';
import { isActorClass, parseUserAgent, userClass } from './actors.ts';

const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** requests of one person closer than this belong to one action (client think time is ~10-30 ms) */
export const SESSION_GAP_MS = 500;
/** attribution of a component's request with no link to any remembered object */
export const UNLINKED_ORIGIN = 'background controller';
/** children an owner's controller creates within this long of the first belong to one action */
export const SPAWN_BURST_MS = 10_000;
/** a component creating a child of an object nobody changed for this long is doing routine work */
export const STALE_OWNER_MS = 60_000;
/** attributions older than this are not inherited (user actions' cascades end well within it) */
export const ORIGIN_HORIZON_MS = 120_000;

export function groupResource(group: string | undefined, resource: string): string {
  return group ? `${group}/${resource}` : resource;
}

/** Built-in cluster-scoped resources (others are learned: a named request without a namespace). */
const CLUSTER_SCOPED = new Set([
  'namespaces', 'nodes', 'persistentvolumes', 'componentstatuses', 'clusterroles', 'clusterrolebindings',
  'certificatesigningrequests', 'customresourcedefinitions', 'tokenreviews', 'subjectaccessreviews',
  'selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'storageclasses', 'csinodes', 'csidrivers',
  'volumeattachments', 'priorityclasses', 'validatingwebhookconfigurations', 'mutatingwebhookconfigurations',
  'validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'flowschemas', 'prioritylevelconfigurations',
  'runtimeclasses', 'ingressclasses', 'apiservices',
]);

/**
 * The operation of the request itself, as a label key ("create apps/deployments"). A request
 * that starts a context carries exactly this label; "nonresource" for URLs like /version.
 * Namespaced means the resource kind is namespaced (a list across all namespaces is still
 * namespaced); `clusterScoped` tells about kinds not built in.
 */
export function opLabel(ev: AuditEvent, clusterScoped?: (groupResource: string) => boolean): string {
  const o = ev.objectRef;
  if (!o?.resource) return 'nonresource';
  const gr = groupResource(o.apiGroup, o.resource);
  const listy = ev.verb === 'list' || ev.verb === 'watch' || ev.verb === 'deletecollection' || (!o.name && ev.verb !== 'create');
  const namespaced = Boolean(o.namespace) || !(CLUSTER_SCOPED.has(o.resource) || (clusterScoped?.(gr) ?? false));
  return labelKey({
    kind: 'trigger', resource: gr, subresource: o.subresource || undefined,
    namespaced, scope: listy ? 'list' : 'single', verbClass: verbClassOf(ev.verb),
  });
}

/** log2 bucket of a duration in ms: "0", "1", "2-3", "4-7", ... capped; "none" when unknown. */
export function gapBucket(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return 'none';
  if (ms < 1) return '0';
  const b = Math.min(20, Math.floor(Math.log2(ms)));
  return `2^${b}`;
}

/** The kind of a candidate label without its resource ("create", "background controller"), so the model learns sources, not label names. */
function coarse(label: string): string {
  if (label.startsWith('background ') || label === 'nonresource') return label;
  return label.slice(0, label.indexOf(' ')) + (label.endsWith('(cluster)') ? '-cluster' : '');
}

function nsClass(ns: string | undefined): string {
  if (!ns) return 'none';
  if (ns === 'kube-system' || ns === 'kube-public' || ns === 'kube-node-lease' || ns === 'default') return ns;
  return 'other';
}

function kindToResource(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith('s')) return k;
  if (k.endsWith('y')) return k.slice(0, -1) + 'ies';
  return k + 's';
}

interface ObjMeta { uid?: string; name?: string; ownerReferences?: { kind?: string; uid?: string }[]; labels?: Record<string, string>; deletionTimestamp?: string }

function meta(o: unknown): ObjMeta | undefined {
  const m = (o as { metadata?: unknown } | undefined)?.metadata;
  return m && typeof m === 'object' ? m as ObjMeta : undefined;
}

/** What the LRU remembers about the last mutating request on an object. */
interface ObjRecord {
  t: number;
  verb: string;
  resource: string;
  user: string;
  /** operation the cascade this request belongs to is attributed to */
  origin: string;
  /** when the action `origin` names happened */
  originT: number;
  /** when a component first created an object owned by this one under this attribution */
  firstSpawn?: number;
}

/** Map with least-recently-used eviction. */
class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly cap: number) {}
  get(k: string): V | undefined { return this.m.get(k); }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.cap) this.m.delete(this.m.keys().next().value as string);
  }
  get size(): number { return this.m.size; }
}

export interface FeatureOptions {
  /** objects remembered for relational features (bounded memory) */
  maxObjects?: number;
}

/**
 * Candidate labels an event's label can be copied from. The model's output classes include a
 * pointer class per candidate ("<self>", "<origin>", ...) besides explicit labels, so it can
 * label actions it saw rarely or never (a custom resource, a new kind) by choosing where the
 * label comes from rather than naming it.
 */
export const POINTERS = ['self', 'origin', 'uorg', 'nslast', 'nbind'] as const;
export type Pointer = (typeof POINTERS)[number];
export const pointerClass = (p: Pointer): string => `<${p}>`;
export function pointerOf(cls: string): Pointer | undefined {
  if (!cls.startsWith('<')) return undefined;
  const p = cls.slice(1, -1) as Pointer;
  return POINTERS.includes(p) ? p : undefined;
}

/** One event's tokens plus the side facts the stage and evaluation use. */
export interface EventFeatures {
  tokens: string[];
  /** own operation label key ("nonresource" for non-resource URLs) */
  op: string;
  /** heuristic attribution along object/owner links */
  origin: string;
  /** candidate labels by pointer (only label keys; absent when unknown) */
  candidates: Partial<Record<Pointer, string>>;
}

/** The training target for an event: the first pointer whose candidate is the true label, else the label. */
export function targetClass(truth: string, candidates: Partial<Record<Pointer, string>>): string {
  for (const p of POINTERS) if (candidates[p] === truth) return pointerClass(p);
  return truth;
}

/** Resolves a class (pointer or label) for an event; undefined when the pointer has no candidate. */
export function resolveClass(cls: string, candidates: Partial<Record<Pointer, string>>): string | undefined {
  const p = pointerOf(cls);
  return p ? candidates[p] : cls;
}

export class FeatureExtractor {
  private readonly objects: Lru<ObjRecord>;
  private readonly uids: Lru<string>;
  private readonly users: Lru<{ t: number; op: string; code: number; origin: string; originT: number; session?: string }>;
  private readonly bindings: Lru<{ t: number; origin: string; originT: number; since: number }>;
  private readonly nsLast: Lru<{ t: number; origin: string; originT: number }>;
  private lastTime: number | undefined;
  private lastActorTime: number | undefined;
  /** kinds seen in named requests without a namespace: cluster-scoped (bounded by the API's kinds) */
  private readonly clusterKinds = new Set<string>();
  private readonly isClusterKind = (gr: string) => this.clusterKinds.has(gr);

  constructor(opts: FeatureOptions = {}) {
    this.objects = new Lru(opts.maxObjects ?? 50_000);
    this.uids = new Lru(opts.maxObjects ?? 50_000);
    this.users = new Lru(10_000);
    this.bindings = new Lru(10_000);
    this.nsLast = new Lru(10_000);
  }

  get rememberedObjects(): number { return this.objects.size; }

  /** Tokens of one event; updates the relational state. `time` is event time in epoch ms. */
  extract(ev: AuditEvent, time: number): EventFeatures {
    const t: string[] = [];
    const o = ev.objectRef;
    const res = o?.resource ? groupResource(o.apiGroup, o.resource) : 'none';
    const ucls = userClass(ev.user?.username);
    const ua = parseUserAgent(ev.userAgent);
    const req = ev.requestObject as Record<string, unknown> | undefined;
    const resp = ev.responseObject as Record<string, unknown> | undefined;
    if (o?.resource && o.name && !o.namespace && this.clusterKinds.size < 10_000) this.clusterKinds.add(groupResource(o.apiGroup, o.resource));
    const op = opLabel(ev, this.isClusterKind);

    t.push(`verb=${ev.verb}`, `res=${res}`, `sub=${o?.subresource || '-'}`, `grp=${o?.apiGroup || (o?.resource ? 'core' : 'none')}`,
      `ns=${nsClass(o?.namespace)}`, `named=${o?.name ? 'yes' : 'no'}`, `user=${ucls}`, `ua=${ua.product}`, `uac=${ua.component}`,
      `code=${ev.responseStatus?.code ?? 'none'}`, `op=${op}`, `vr=${ev.verb}|${res}|${o?.subresource || '-'}`);
    for (const g of ev.user?.groups ?? []) t.push(`ug=${g}`);
    if (ev.impersonatedUser) t.push(`imp=${userClass(ev.impersonatedUser.username)}`);
    if (!o?.resource) t.push(`path=${nonResourcePath(ev.requestURI)}`);
    const reqKind = typeof req?.kind === 'string' ? req.kind : 'none';
    const respKind = typeof resp?.kind === 'string' ? resp.kind : 'none';
    t.push(`reqk=${reqKind}`, `respk=${respKind}`);
    const decision = ev.annotations?.['authorization.k8s.io/decision'];
    t.push(`authz=${decision ?? 'none'}`);

    const rm = meta(req);
    const pm = meta(resp);
    const owners = [...(rm?.ownerReferences ?? []), ...(pm?.ownerReferences ?? [])];
    for (const kind of new Set(owners.map((r) => r.kind ?? 'none'))) t.push(`own=${kind}`);
    if (rm?.deletionTimestamp || pm?.deletionTimestamp) t.push('deleting=yes');

    // Events: involved object and reason
    const inv = (req?.involvedObject ?? req?.regarding ?? resp?.involvedObject ?? resp?.regarding) as { kind?: string; uid?: string; name?: string; namespace?: string } | undefined;
    if (inv) t.push(`inv=${inv.kind ?? 'none'}`);
    const reason = (req?.reason ?? resp?.reason) as string | undefined;
    if (typeof reason === 'string') t.push(`reason=${reason}`);

    // timing
    t.push(`gap=${gapBucket(this.lastTime === undefined ? undefined : time - this.lastTime)}`);
    t.push(`agap=${gapBucket(this.lastActorTime === undefined ? undefined : time - this.lastActorTime)}`);
    this.lastTime = time;
    const actor = isActorClass(ucls);
    if (actor) this.lastActorTime = time;

    // relational: the previous request of the same user (by name, but only its shape is a token)
    const uname = ev.user?.username;
    const prevOfUser = uname ? this.users.get(uname) : undefined;
    t.push(`uprev=${prevOfUser ? prevOfUser.op : 'none'}`, `ugap=${gapBucket(prevOfUser ? time - prevOfUser.t : undefined)}`);
    if (prevOfUser) t.push(`uprevcode=${prevOfUser.code}`, `uorg=${coarse(prevOfUser.origin)}`);
    const candidates: Partial<Record<Pointer, string>> = {};
    if (op !== 'nonresource') candidates.self = op;
    const fresh = (originT: number) => time - originT <= ORIGIN_HORIZON_MS;
    if (prevOfUser && prevOfUser.origin !== 'nonresource' && fresh(prevOfUser.originT)) candidates.uorg = prevOfUser.origin;
    // relational: a kubelet works on the pods last bound to its node
    const node = ucls === 'node' ? uname!.slice('system:node:'.length) : undefined;
    if (node) {
      const b = this.bindings.get(node);
      if (b) {
        t.push(`nbind=${coarse(b.origin)}`, `nbgap=${gapBucket(time - b.t)}`, `nbn=${Math.min(b.since, 6)}`);
        b.since++;
        if (fresh(b.originT)) candidates.nbind = b.origin;
      }
    }

    // relational: keys of this object and of the objects it links to
    const ns = o?.namespace ?? '';
    const selfKeys: string[] = [];
    const details = (resp as { details?: { uid?: string } } | undefined)?.details;
    const name = o?.name || pm?.name || rm?.name;
    const nameKey = o?.resource && name ? `n:${o.resource}|${ns}|${name}` : undefined;
    // a request without the object's uid (a delete answered by a Status, a Metadata-level
    // event) still reaches the uid-keyed record owners link to, through the name → uid alias
    const uid = o?.uid || pm?.uid || rm?.uid || details?.uid || (nameKey ? this.uids.get(nameKey) : undefined);
    if (uid) selfKeys.push(`u:${uid}`);
    if (nameKey) {
      selfKeys.push(nameKey);
      if (uid && ev.verb !== 'delete') this.uids.set(nameKey, uid);
    }
    const links: [string, string][] = []; // [link kind, key]
    for (const r of owners) if (r.uid) links.push(['owner', `u:${r.uid}`]);
    if (inv) {
      if (inv.uid) links.push(['involved', `u:${inv.uid}`]);
      if (inv.kind && inv.name) links.push(['involved', `n:${kindToResource(inv.kind)}|${inv.namespace ?? ''}|${inv.name}`]);
    }
    if (o?.resource === 'endpoints' && name) links.push(['service', `n:services|${ns}|${name}`]);
    const svc = pm?.labels?.['kubernetes.io/service-name'] ?? rm?.labels?.['kubernetes.io/service-name'];
    if (o?.resource === 'endpointslices' && svc) links.push(['service', `n:services|${ns}|${svc}`]);

    let best: ObjRecord | undefined; let bestKind = 'none';
    for (const k of selfKeys) {
      const r = this.objects.get(k);
      if (r && (!best || r.t > best.t)) { best = r; bestKind = 'self'; }
    }
    t.push(`seen=${best ? 'yes' : 'no'}`);
    for (const [kind, k] of links) {
      const r = this.objects.get(k);
      if (r && (!best || r.t > best.t)) { best = r; bestKind = kind; }
    }
    t.push(`link=${bestKind}`);
    if (best) {
      t.push(`lverb=${best.verb}`, `lres=${best.resource}`, `luser=${best.user}`, `lage=${gapBucket(time - best.t)}`, `org=${coarse(best.origin)}`);
    }
    if (ns) {
      const nr = this.objects.get(`n:namespaces||${ns}`);
      if (nr) t.push(`nsop=${nr.verb}|${nr.user === 'human' || nr.user === 'sa' ? 'actor' : 'system'}`, `nsage=${gapBucket(time - nr.t)}`, `nsorg=${coarse(nr.origin)}`);
    }
    // a person's requests in quick succession are one action (helm install: the release secret,
    // then the chart's objects); its first change names the action
    const session = actor && prevOfUser?.session !== undefined && time - prevOfUser.t <= SESSION_GAP_MS ? prevOfUser.session : undefined;
    // a component's request that links to nothing a person did recently is its own routine work
    // an owner's children created in one burst belong to the owner's action; a child created
    // long after the first, or long after the owner last changed (a CronJob's scheduled runs),
    // is routine work of its controller
    let spawned = 'no';
    if (!actor && best && bestKind === 'owner' && ev.verb === 'create') {
      if (time - best.t > STALE_OWNER_MS) spawned = 'stale';
      else if (best.firstSpawn === undefined) { best.firstSpawn = time; spawned = 'first'; }
      else spawned = time - best.firstSpawn <= SPAWN_BURST_MS ? 'burst' : 'later';
    }
    t.push(`spawn=${spawned}`);
    let origin = actor ? (session ?? op) : !best || spawned === 'later' || spawned === 'stale' ? UNLINKED_ORIGIN : best.origin;
    let originT = actor || origin === UNLINKED_ORIGIN || !best ? time : best.originT;
    // no cascade lasts this long: an old attribution is not this event's cause
    if (!fresh(originT)) { origin = UNLINKED_ORIGIN; originT = time; t.push('stale=yes'); }
    // Endpoints follow the readiness of the Service's pods: without a fresh link, the namespace's
    // latest action is the cause
    if (!actor && origin === UNLINKED_ORIGIN && (o?.resource === 'endpoints' || o?.resource === 'endpointslices') && ns) {
      const last = this.nsLast.get(ns);
      if (last && fresh(last.originT)) { origin = last.origin; originT = last.originT; t.push('via=namespace'); }
    }
    t.push(`origin=${origin}`, `sess=${session === undefined ? 'no' : session === op ? 'same' : 'other'}`);
    // relational: what happened last in the same namespace (cascades stay in their namespace)
    if (ns) {
      const last = this.nsLast.get(ns);
      if (last) {
        t.push(`nslast=${coarse(last.origin)}`, `nslgap=${gapBucket(time - last.t)}`);
        if (last.origin !== 'nonresource' && fresh(last.originT)) candidates.nslast = last.origin;
      }
      this.nsLast.set(ns, { t: time, origin, originT });
    }

    if (MUTATING.has(ev.verb)) {
      // a component updating its own object keeps that object's spawn history
      const rec: ObjRecord = { t: time, verb: ev.verb, resource: res, user: ucls, origin, originT, firstSpawn: !actor && bestKind === 'self' ? best?.firstSpawn : undefined };
      for (const k of selfKeys) this.objects.set(k, rec);
      // a person's change to an object is what its owners' controllers react to next
      // (kubectl delete pod → the ReplicaSet creates a replacement)
      if (actor) for (const r of owners) if (r.uid) this.objects.set(`u:${r.uid}`, rec);
    }
    if (uname) {
      const sess = actor ? (session ?? (MUTATING.has(ev.verb) && (ev.responseStatus?.code ?? 200) < 400 ? op : undefined)) : undefined;
      this.users.set(uname, { t: time, op, code: ev.responseStatus?.code ?? 0, origin, originT, session: sess });
    }
    const target = (req?.kind === 'Binding' ? req.target : undefined) as { kind?: string; name?: string } | undefined;
    if (target?.kind === 'Node' && target.name) this.bindings.set(target.name, { t: time, origin, originT, since: 0 });
    if (origin !== 'nonresource') candidates.origin = origin;
    // which candidates agree: lets the model pick a source without knowing the label itself
    for (let i = 0; i < POINTERS.length; i++) {
      const a = candidates[POINTERS[i]!];
      if (a === undefined) { t.push(`no=${POINTERS[i]}`); continue; }
      for (let j = i + 1; j < POINTERS.length; j++) if (a === candidates[POINTERS[j]!]) t.push(`eq=${POINTERS[i]}~${POINTERS[j]}`);
    }
    return { tokens: t, op, origin, candidates };
  }
}

function nonResourcePath(uri: string | undefined): string {
  if (!uri) return 'none';
  const p = uri.split('?')[0]!;
  const seg = p.split('/').filter(Boolean);
  if (!seg.length) return '/';
  if (seg[0] === 'apis' && seg.length > 1) return '/apis/*';
  if (seg[0] === 'api' && seg.length > 1) return '/api/*';
  if (seg[0] === 'openapi') return '/openapi';
  return `/${seg[0]}`;
}
