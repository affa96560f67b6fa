/**
 * Feature extraction: each audit event → a list of categorical tokens "field=value".
 *
 * Structural fields only (objectRef resource/subresource/group, namespaced or not, verb, user
 * class, groups, parsed user agent, request/response kinds, ownerReference kinds, involved
 * object kind, event reason, authorization decision, response code). Names and UIDs are never
 * tokens. They are used, through bounded LRUs of recently touched objects, users, namespaces
 * and node bindings, by an attribution tracer: it follows each event to the action it belongs
 * to (links to the object itself, its owners, the object an Event is about, the Service of an
 * Endpoints, a volume's claim, a token's pod, a namespace being created or deleted; timing
 * where no link exists) and emits name-free *relational* tokens (which link, how long ago, what
 * kind of request made it) plus the attributed operation (`origin`) and the other candidate
 * labels the model can point to. The extractor is stateful and must see events in stream
 * order; the same code runs in training and in the live stage.
 */
import type { AuditEvent } from '../types/audit.ts';
import { LRUCache } from 'lru-cache';
import { isActorClass, nodeNameOf, parseUserAgent, userClass } from '../k8s/identity.ts';
import { groupResource, pluralOfKind, CHILD_OF, WORKLOADS } from '../k8s/resources.ts';
import { eventSubject, isHubObject, parentName } from '../k8s/names.ts';
import { opLabel } from '../k8s/ops.ts';
import { ATTRIBUTION, type AttributionParams } from '../k8s/params.ts';
import { ReleaseTracker } from '../k8s/sessions.ts';
import { isDryRun } from '../k8s/uri.ts';
import { dumpLru, loadLru } from '../util/snapshot.ts';

export { opLabel, groupResource };

const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** requests of one person closer than this belong to one action */
export const SESSION_GAP_MS = ATTRIBUTION.sessionGapMs;
/** attribution of a component's request with no link to any remembered object */
export const UNLINKED_ORIGIN = 'background controller';
/** the label of a helm release before its first change says which command it is (install, upgrade and rollback all create a release record) */
const RELEASE_LABEL = 'create secrets';

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
  /** username of the requester (only compared, never a token) */
  uname: string;
  /** owner uid keys of the object, remembered so requests that carry no body (a garbage collector's delete) still reach them */
  owners?: string[];
  /** the request was a workload's reaction to someone else's change (an operator's work on a custom resource) */
  reacted?: boolean;
  /** the object is being deleted (a delete was accepted; finalizers may still hold it) */
  deleting?: boolean;
  /** operation the cascade this request belongs to is attributed to */
  origin: string;
  /** when the action `origin` names happened */
  originT: number;
  /** when a component first created an object owned by this one under this attribution */
  firstSpawn?: number;
}

export interface FeatureOptions {
  /** objects remembered for relational features (bounded memory) */
  maxObjects?: number;
  /** attribution thresholds (default: the ones the shipped model was trained with) */
  params?: AttributionParams;
}

/**
 * Candidate labels an event's label can be copied from. The model's output classes include a
 * pointer class per candidate ("<self>", "<origin>", ...) besides explicit labels, so it can
 * label actions it saw rarely or never (a custom resource, a new kind) by choosing where the
 * label comes from rather than naming it.
 */
export const POINTERS = ['self', 'origin', 'uorg', 'nslast', 'nbind', 'unext'] as const;
/** pointers known when the event is extracted (`unext` is filled in later, when the person's next request comes) */
const CAUSAL_POINTERS = POINTERS.filter((p) => p !== 'unext');
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
  /**
   * candidate labels by pointer (only label keys; absent when unknown). `unext` is set on a
   * person's read when their next request, within the session gap, is the change the read was
   * for (kubectl apply's GET before its PATCH, helm's existence checks before the install, the
   * GET of a pod before `exec`): the object stays shared, so whoever holds it sees the update.
   */
  candidates: Partial<Record<Pointer, string>>;
  /** a person's read: its `unext` may still come, from a request up to SESSION_GAP_MS later */
  awaitsNext?: boolean;
  /** the attribution is certain (a person's request in a helm release session): `origin` is the label */
  sure?: boolean;
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

type Attribution = { t: number; origin: string; originT: number };

/** FeatureExtractor.snapshotState(): the tracer's memory as plain values */
export interface TracerState {
  v: 1;
  [cache: string]: unknown;
  releases: ReturnType<ReleaseTracker['snapshotState']>;
  lastTime?: number;
  clusterLast?: Attribution;
  lastActorTime?: number;
  clusterKinds: string[];
}

export class FeatureExtractor {
  private readonly p: AttributionParams;
  private readonly objects: LRUCache<string, ObjRecord>;
  private readonly uids: LRUCache<string, string>;
  /** the latest change of any object by its name alone ("<ns>|<name>"): a child's parent, an Event's object */
  private readonly names: LRUCache<string, ObjRecord>;
  /** the latest change of each kind in each namespace ("<ns>|<resource>"): the parent of a child created by generateName */
  private readonly kinds: LRUCache<string, ObjRecord>;
  private readonly users: LRUCache<string, { t: number; op: string; code: number; origin: string; originT: number; session?: string; read?: string }>;
  private readonly bindings: LRUCache<string, Attribution & { since: number; ns: string }>;
  /** pods bound to each node recently whose start the kubelet has not begun yet (oldest first) */
  private readonly starting: LRUCache<string, (Attribution & { ns: string })[]>;
  /** pods bound in each namespace recently, when the binding's node is not logged (Metadata level), oldest first */
  private readonly nsStarting: LRUCache<string, Attribution[]>;
  private readonly nsLast: LRUCache<string, Attribution>;
  /** the latest action of a person in each namespace */
  private readonly nsPerson: LRUCache<string, Attribution>;
  /** a person's reads waiting for the request they lead to */
  private readonly reads: LRUCache<string, { t: number; candidates: Partial<Record<Pointer, string>>[] }>;
  /** helm release sessions (see k8s/sessions.ts) and the label of each */
  private readonly releases: ReleaseTracker;
  private readonly releaseLabel: LRUCache<string, Attribution & { changed: boolean }>;
  private lastTime: number | undefined;
  /** the latest change a person made to a cluster-scoped object (a CRD, a ClusterRole) */
  private clusterLast: Attribution | undefined;
  private lastActorTime: number | undefined;
  /** kinds seen in named requests without a namespace: cluster-scoped (bounded by the API's kinds) */
  private readonly clusterKinds = new Set<string>();
  private readonly isClusterKind = (gr: string) => this.clusterKinds.has(gr);

  constructor(opts: FeatureOptions = {}) {
    this.p = opts.params ?? ATTRIBUTION;
    const max = opts.maxObjects ?? 50_000;
    this.objects = new LRUCache({ max });
    this.uids = new LRUCache({ max });
    this.names = new LRUCache({ max });
    this.kinds = new LRUCache({ max: 10_000 });
    this.users = new LRUCache({ max: 10_000 });
    this.bindings = new LRUCache({ max: 10_000 });
    this.starting = new LRUCache({ max: 10_000 });
    this.nsStarting = new LRUCache({ max: 10_000 });
    this.nsLast = new LRUCache({ max: 10_000 });
    this.nsPerson = new LRUCache({ max: 10_000 });
    this.reads = new LRUCache({ max: 10_000 });
    this.releases = new ReleaseTracker(this.p);
    this.releaseLabel = new LRUCache({ max: 10_000 });
  }

  get rememberedObjects(): number { return this.objects.size; }

  /**
   * Everything the tracer remembers, as plain values (the restart checkpoint): encode it with
   * `encodeState` in the same call as anything sharing objects with it (held events' candidates).
   */
  snapshotState(): TracerState {
    return {
      v: 1,
      objects: dumpLru(this.objects), uids: dumpLru(this.uids), names: dumpLru(this.names), kinds: dumpLru(this.kinds),
      users: dumpLru(this.users), bindings: dumpLru(this.bindings), starting: dumpLru(this.starting), nsStarting: dumpLru(this.nsStarting),
      nsLast: dumpLru(this.nsLast), nsPerson: dumpLru(this.nsPerson), reads: dumpLru(this.reads),
      releases: this.releases.snapshotState(), releaseLabel: dumpLru(this.releaseLabel),
      lastTime: this.lastTime, clusterLast: this.clusterLast, lastActorTime: this.lastActorTime, clusterKinds: [...this.clusterKinds],
    };
  }

  /** Takes back a `snapshotState()`; a snapshot of another version is ignored (false). */
  restoreState(s: TracerState | undefined): boolean {
    if (!s || s.v !== 1) return false;
    loadLru(this.objects, s.objects); loadLru(this.uids, s.uids); loadLru(this.names, s.names); loadLru(this.kinds, s.kinds);
    loadLru(this.users, s.users); loadLru(this.bindings, s.bindings); loadLru(this.starting, s.starting); loadLru(this.nsStarting, s.nsStarting);
    loadLru(this.nsLast, s.nsLast); loadLru(this.nsPerson, s.nsPerson); loadLru(this.reads, s.reads);
    this.releases.restoreState(s.releases);
    loadLru(this.releaseLabel, s.releaseLabel);
    this.lastTime = typeof s.lastTime === 'number' ? s.lastTime : undefined;
    this.clusterLast = s.clusterLast ?? undefined;
    this.lastActorTime = typeof s.lastActorTime === 'number' ? s.lastActorTime : undefined;
    this.clusterKinds.clear();
    for (const k of s.clusterKinds ?? []) this.clusterKinds.add(k);
    return true;
  }

  /** Tokens of one event; updates the relational state. `time` is event time in epoch ms. */
  extract(ev: AuditEvent, time: number): EventFeatures {
    const P = this.p;
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
    const actorClass = isActorClass(ucls);
    /** a change that took effect (a refused or failed request changes nothing) */
    const changed = MUTATING.has(ev.verb) && (ev.responseStatus?.code ?? 200) < 400 && !isDryRun(ev.requestURI);
    if (actorClass) this.lastActorTime = time;

    // relational: the previous request of the same user (by name, but only its shape is a token)
    const uname = ev.user?.username;
    const prevOfUser = uname ? this.users.get(uname) : undefined;
    t.push(`uprev=${prevOfUser ? prevOfUser.op : 'none'}`, `ugap=${gapBucket(prevOfUser ? time - prevOfUser.t : undefined)}`);
    if (prevOfUser) t.push(`uprevcode=${prevOfUser.code}`, `uorg=${coarse(prevOfUser.origin)}`);
    const candidates: Partial<Record<Pointer, string>> = {};
    let actor = actorClass;
    if (op !== 'nonresource') candidates.self = op;
    const fresh = (originT: number) => time - originT <= P.originHorizonMs;
    if (prevOfUser && prevOfUser.origin !== 'nonresource' && fresh(prevOfUser.originT)) candidates.uorg = prevOfUser.origin;
    // relational: a kubelet works on the pods last bound to its node
    const node = nodeNameOf(uname);
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
    // a token is minted for whoever it is bound to, not a change of the ServiceAccount
    const nameKey = o?.resource && name && o.subresource !== 'token' ? `n:${o.resource}|${ns}|${name}` : undefined;
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
      if (inv.kind && inv.name) links.push(['involved', `n:${pluralOfKind(inv.kind)}|${inv.namespace ?? ''}|${inv.name}`]);
    }
    if (o?.resource === 'endpoints' && name) links.push(['service', `n:services|${ns}|${name}`]);
    // a kubelet's token for a pod is bound to that pod
    const bound = req?.kind === 'TokenRequest' ? (req.spec as { boundObjectRef?: { kind?: string; name?: string; uid?: string } } | undefined)?.boundObjectRef : undefined;
    if (bound?.uid) links.push(['bound', `u:${bound.uid}`]);
    if (bound?.kind && bound.name) links.push(['bound', `n:${pluralOfKind(bound.kind)}|${ns}|${bound.name}`]);
    // a PersistentVolume is provisioned and bound for its claim
    const claim = ((req?.spec ?? resp?.spec) as { claimRef?: { uid?: string; name?: string; namespace?: string } } | undefined)?.claimRef;
    if (claim?.uid) links.push(['claim', `u:${claim.uid}`]);
    if (claim?.name) links.push(['claim', `n:persistentvolumeclaims|${claim.namespace ?? ''}|${claim.name}`]);
    const svc = pm?.labels?.['kubernetes.io/service-name'] ?? rm?.labels?.['kubernetes.io/service-name'];
    if (o?.resource === 'endpointslices' && svc) links.push(['service', `n:services|${ns}|${svc}`]);

    let best: ObjRecord | undefined; let bestKind = 'none';
    let selfRec: ObjRecord | undefined;
    for (const k of selfKeys) {
      const r = this.objects.get(k);
      if (r && (!best || r.t > best.t)) { best = r; bestKind = 'self'; selfRec = r; }
    }
    t.push(`seen=${best ? 'yes' : 'no'}`);
    // the owners an object had: when one of them is being deleted, this request is the cascade
    const ownerKeys = owners.length ? owners.filter((r) => r.uid).map((r) => `u:${r.uid}`) : selfRec?.owners;
    if (!owners.length && selfRec?.owners) {
      for (const k of selfRec.owners) {
        const r = this.objects.get(k);
        if (r?.deleting) links.push(['owner', k]);
      }
    }
    // a namespace just created or being deleted: its controllers' work in it follows from that
    if (ns && !actorClass) {
      const nr = this.objects.get(`n:namespaces||${ns}`);
      if (nr && ((nr.deleting && fresh(nr.originT)) || (nr.verb === 'create' && time - nr.t <= P.spawnBurstMs))) links.push(['namespace', `n:namespaces||${ns}`]);
    }
    // what every audit level carries: names. A child named after its parent (a ReplicaSet after
    // its Deployment, a Pod after its ReplicaSet, an EndpointSlice after its Service), an Event
    // named after its object, a pod created by generateName right after its parent kind changed
    const named: [string, ObjRecord | undefined][] = [];
    if (!actorClass && o?.resource) {
      if (name) {
        const parent = o.resource === 'events' ? eventSubject(name) : parentName(res, name);
        if (parent) {
          const r = this.names.get(`${ns}|${parent}`);
          if (r && (o.resource === 'events' || time - r.t <= P.familyMs)) named.push([o.resource === 'events' ? 'event' : 'family', r]);
        }
        // a service account's token: the account a chart just created (the default account is every pod's)
        if (o.subresource === 'token' && o.resource === 'serviceaccounts' && !isHubObject('serviceaccounts', name)) {
          const r = this.objects.get(`n:serviceaccounts|${ns}|${name}`);
          if (r && time - r.t <= P.familyMs) named.push(['account', r]);
        }
      } else if (ev.verb === 'create') {
        for (const pk of CHILD_OF[res] ?? []) {
          const r = this.kinds.get(`${ns}|${pk}`);
          if (r && time - r.t <= P.spawnBurstMs) named.push(['generated', r]);
        }
      }
    }
    for (const [kind, k] of links) {
      const r = this.objects.get(k);
      if (r && (!best || r.t > best.t)) { best = r; bestKind = kind; }
    }
    for (const [kind, r] of named) if (r && (!best || r.t > best.t)) { best = r; bestKind = kind; }
    t.push(`link=${bestKind}`);
    // a workload service account (a provisioner, an operator) reacting to what someone else just changed
    // (on the object itself: right after a person created it, or a provisioner reclaiming the volume a claim's delete released)
    const reacting = best !== undefined && (best.uname !== uname || best.reacted === true) && !best.origin.startsWith('background ') && (bestKind === 'self'
      ? (isActorClass(best.user) && time - best.t <= P.reactSelfMs) || (o?.resource === 'persistentvolumes' && ev.verb === 'delete' && time - best.t <= P.reactionMs)
      : bestKind !== 'none' && time - best.t <= P.reactionMs);
    // a workload whose own service account the action just created (an operator a chart installs)
    // is the action's product running: its work is its own, not a reaction on the action's behalf
    const ownAccount = ucls === 'sa' && uname ? this.objects.get(`n:serviceaccounts|${saNamespace(uname)}|${saName(uname)}`) : undefined;
    const created = ownAccount !== undefined && ownAccount.verb === 'create' && time - ownAccount.t <= P.originHorizonMs;
    if (actorClass && ucls === 'sa' && reacting && !created) {
      actor = false;
      t.push('react=yes');
    }
    if (best) {
      t.push(`lverb=${best.verb}`, `lres=${best.resource}`, `luser=${best.user}`, `lage=${gapBucket(time - best.t)}`, `org=${coarse(best.origin)}`);
    }
    if (ns) {
      const nr = this.objects.get(`n:namespaces||${ns}`);
      if (nr) t.push(`nsop=${nr.verb}|${nr.user === 'human' || nr.user === 'sa' ? 'actor' : 'system'}`, `nsage=${gapBucket(time - nr.t)}`, `nsorg=${coarse(nr.origin)}`);
    }
    // a person's requests in quick succession are one action (helm install: the release secret,
    // then the chart's objects); its first change names the action
    // (kubectl sends one change per command: its change right after another one is the next command,
    // unless it is the next object of one `apply`, which reads each object before changing it)
    const chains = !(MUTATING.has(ev.verb) && ua.product === 'kubectl') || (nameKey !== undefined && prevOfUser?.read === nameKey);
    const gapLimit = ua.product === 'kubectl' ? P.kubectlStepMs : P.sessionGapMs;
    const session = actor && chains && prevOfUser?.session !== undefined && time - prevOfUser.t <= gapLimit ? prevOfUser.session : undefined;
    // a component's request that links to nothing a person did recently is its own routine work;
    // an owner's children belong to the owner's action, unless the owner has not changed for
    // long (a controller's routine resync) or the owner is a CronJob past its first run
    let spawned = 'no';
    if (!actor && best && bestKind === 'owner' && ev.verb === 'create') {
      if (owners.some((r) => r.kind === 'CronJob')) {
        // a CronJob's first scheduled run (the next minute boundary) belongs to the action that created
        // (or changed) it; later runs are its controller's routine, and so is what follows them
        if (best.firstSpawn === undefined && time - best.t <= P.staleOwnerMs + 2_000) { best.firstSpawn = time; best.originT = time; spawned = 'first'; }
        else { best.origin = UNLINKED_ORIGIN; best.originT = time; spawned = 'later'; }
      } else if (time - best.t > P.staleOwnerMs) spawned = 'stale';
      else if (best.firstSpawn === undefined) { best.firstSpawn = time; spawned = 'first'; }
      else spawned = 'burst';
    }
    t.push(`spawn=${spawned}`);
    let origin = actor ? (session ?? op) : !best || spawned === 'later' || spawned === 'stale' ? UNLINKED_ORIGIN : best.origin;
    let originT = actor || origin === UNLINKED_ORIGIN || !best ? time : best.originT;
    // a person's request in a helm release session: the release is the action, labeled by the
    // command's release record change (install, upgrade, rollback create a record; uninstall updates it)
    let sure = false;
    if (actor) {
      const m = this.releases.person(ev, time);
      if (m) {
        let rl = this.releaseLabel.get(m.session.id);
        if (!rl) { rl = { t: time, origin: RELEASE_LABEL, originT: time, changed: false }; this.releaseLabel.set(m.session.id, rl); }
        if (!rl.changed && changed && m.via === 'release-record') { rl.changed = true; rl.origin = op; }
        // the release is ongoing while its person works on it: its cascade's horizon counts from now
        rl.t = time; rl.originT = time;
        origin = rl.origin; originT = time; sure = true;
        t.push(`via=${m.via}`);
      }
    }
    // a component's request right after its previous one, with no link of its own, is the same work item
    // (a kubelet reads the CA configmap right after the pod's token)
    if (!actor && !best && prevOfUser && time - prevOfUser.t <= P.followUpMs && prevOfUser.origin !== UNLINKED_ORIGIN && !prevOfUser.origin.startsWith('background ') && prevOfUser.origin !== 'nonresource') {
      origin = prevOfUser.origin; originT = prevOfUser.originT; t.push('via=previous');
    } else if (!actor && !best && node) {
      // a kubelet's first requests for a pod just bound to its node (the token of a Metadata-level audit has no
      // body to link by): the oldest pod bound there in this namespace that it has not started yet
      const pend = this.starting.get(node);
      const k = pend ? pend.findIndex((b) => b.ns === ns && time - b.t <= P.bindFollowMs) : -1;
      // without the binding's node (Metadata level): the oldest pod bound in the namespace
      const nsPend = k < 0 && ns ? this.nsStarting.get(ns) : undefined;
      const j = nsPend ? nsPend.findIndex((b) => time - b.t <= P.bindFollowMs) : -1;
      if (pend && k >= 0 && fresh(pend[k]!.originT)) {
        const b = pend[k]!;
        origin = b.origin; originT = b.originT; t.push('via=binding');
        if (o?.subresource === 'token') pend.splice(k, 1);
      } else if (nsPend && j >= 0 && fresh(nsPend[j]!.originT)) {
        const b = nsPend[j]!;
        origin = b.origin; originT = b.originT; t.push('via=nsbinding');
        if (o?.subresource === 'token') nsPend.splice(j, 1);
      }
    }
    // no cascade lasts this long: an old attribution is not this event's cause
    if (!fresh(originT)) { origin = UNLINKED_ORIGIN; originT = time; t.push('stale=yes'); }
    // Endpoints follow the readiness of the Service's pods: without a fresh link, the namespace's
    // latest action is the cause
    // (and so does a resource quota's usage); the pod change they follow was the namespace's last event
    const follower = o?.resource === 'endpoints' || o?.resource === 'endpointslices' || o?.resource === 'resourcequotas' || (o?.subresource === 'status' && WORKLOADS.has(res));
    if (!actor && ns && bestKind !== 'namespace') {
      const last = this.nsLast.get(ns);
      if (last && fresh(last.originT) && last.origin !== UNLINKED_ORIGIN) {
        if (follower && (origin === UNLINKED_ORIGIN || (time - last.t <= P.followNsMs && last.t > (best?.t ?? -Infinity)))) { origin = last.origin; originT = last.originT; t.push('via=namespace'); }
        // a component's unlinked request right after something happened in the namespace (a StatefulSet's first claim)
        else if (!best && origin === UNLINKED_ORIGIN && time - last.t <= P.followUpMs) { origin = last.origin; originT = last.originT; t.push('via=nsfollow'); }
      }
    }
    // cluster-scoped follow-ups of a person's cluster-scoped change: the aggregation controller
    // updating edit/admin/view after a ClusterRole, controllers discovering a new CRD's API group
    const cl = this.clusterLast;
    if (!actor && !ns && !best && origin === UNLINKED_ORIGIN && MUTATING.has(ev.verb) && cl && time - cl.t <= P.followNsMs && fresh(cl.originT)) {
      origin = cl.origin; originT = cl.originT; t.push('via=cluster');
    }
    if (actor && !ns && o?.resource && changed) this.clusterLast = { t: time, origin, originT };
    // a component's work that names a live helm release (its objects in other namespaces, cluster-scoped ones)
    if (!actor && !best && origin === UNLINKED_ORIGIN) {
      const m = this.releases.component(ev, time);
      const rl = m ? this.releaseLabel.get(m.session.id) : undefined;
      if (rl && fresh(rl.originT)) { origin = rl.origin; originT = rl.originT; t.push('via=release'); }
    }
    // a control-plane component's unlinked work in a namespace: the latest action of a person there
    // (not a kubelet's: its work is per pod, and pods are tied by name and binding; an unlinked
    // token is a refresh, at 80% of the token's lifetime)
    if (!actorClass && !best && origin === UNLINKED_ORIGIN && ns && ucls !== 'node' && o?.subresource !== 'token' && !(name && isHubObject(res, name))) {
      const np = this.nsPerson.get(ns);
      if (np && time - np.t <= P.originHorizonMs && fresh(np.originT)) { origin = np.origin; originT = np.originT; t.push('via=nsperson'); }
    }
    // routine work nobody's action explains, by kind: a token refresh, an event about a long-running object
    if (origin === UNLINKED_ORIGIN && !actor && ev.verb === 'create') {
      if (o?.subresource === 'token') origin = 'background token';
      else if (o?.resource === 'events' && ucls === 'node') origin = 'background events';
    }
    // a workload's service account watching the cluster (a monitoring agent's lists, a provisioner's lease) is routine
    if (actor && ucls === 'sa' && ((ev.verb === 'list' && !o?.namespace) || o?.resource === 'leases')) origin = UNLINKED_ORIGIN;
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

    if (changed) {
      // a component updating its own object keeps that object's spawn history
      const rec: ObjRecord = { t: time, verb: ev.verb, resource: res, user: ucls, uname: uname ?? '', owners: ownerKeys,
        reacted: actorClass && !actor ? true : undefined,
        deleting: ev.verb === 'delete' || ev.verb === 'deletecollection' || Boolean(rm?.deletionTimestamp || pm?.deletionTimestamp) || (bestKind === 'self' && best?.deleting && ev.verb !== 'create') || undefined,
        origin, originT, firstSpawn: !actor && bestKind === 'self' ? best?.firstSpawn : undefined };
      for (const k of selfKeys) this.objects.set(k, rec);
      if (name) this.names.set(`${ns}|${name}`, rec);
      if (o?.resource && !o.subresource) this.kinds.set(`${ns}|${res}`, rec);
      // a person's change to an object is what its owners' controllers react to next
      // (kubectl delete pod → the ReplicaSet creates a replacement)
      // (owners remembered from earlier requests only for a delete, which carries no body)
      const reach = owners.length ? ownerKeys : ev.verb === 'delete' && !o?.subresource ? ownerKeys : undefined;
      if (actor) for (const k of reach ?? []) this.objects.set(k, rec);
    }
    if (uname) {
      const sess = actor ? (session ?? (changed ? op : undefined)) : undefined;
      this.users.set(uname, { t: time, op, code: ev.responseStatus?.code ?? 0, origin, originT, session: sess, read: ev.verb === 'get' ? nameKey : undefined });
    }
    const target = (req?.kind === 'Binding' ? req.target : undefined) as { kind?: string; name?: string } | undefined;
    if (o?.subresource === 'binding' && changed && ns && !target) {
      // Metadata level: the pod is known, its node is not
      const pend = (this.nsStarting.get(ns) ?? []).filter((b) => time - b.t <= P.bindFollowMs);
      pend.push({ t: time, origin, originT });
      this.nsStarting.set(ns, pend.slice(-16));
    }
    if (actor && ns && origin !== 'nonresource' && (changed || sure)) this.nsPerson.set(ns, { t: time, origin, originT });
    if (target?.kind === 'Node' && target.name && changed) {
      this.bindings.set(target.name, { t: time, origin, originT, since: 0, ns });
      const pend = (this.starting.get(target.name) ?? []).filter((b) => time - b.t <= P.bindFollowMs);
      pend.push({ t: time, origin, originT, ns });
      this.starting.set(target.name, pend.slice(-16));
    }
    if (origin !== 'nonresource') candidates.origin = origin;
    // which candidates agree: lets the model pick a source without knowing the label itself
    for (let i = 0; i < CAUSAL_POINTERS.length; i++) {
      const a = candidates[CAUSAL_POINTERS[i]!];
      if (a === undefined) { t.push(`no=${CAUSAL_POINTERS[i]}`); continue; }
      for (let j = i + 1; j < CAUSAL_POINTERS.length; j++) if (a === candidates[CAUSAL_POINTERS[j]!]) t.push(`eq=${CAUSAL_POINTERS[i]}~${CAUSAL_POINTERS[j]}`);
    }
    if (actorClass && uname) {
      // a person's reads lead to their next change (or subresource request) within the session gap
      const pending = this.reads.get(uname);
      const live = pending && time - pending.t <= P.sessionGapMs ? pending : undefined;
      if (MUTATING.has(ev.verb) || o?.subresource) {
        if (live && origin !== 'nonresource') for (const c of live.candidates) c.unext = origin;
        if (pending) this.reads.set(uname, { t: time, candidates: [] });
      } else if (ev.verb === 'get' || ev.verb === 'list') {
        const list = live ? live.candidates : [];
        if (list.length < 64) list.push(candidates);
        this.reads.set(uname, { t: time, candidates: list });
      }
    }
    const awaitsNext = actorClass && Boolean(uname) && (ev.verb === 'get' || ev.verb === 'list') && !o?.subresource;
    const out: EventFeatures = { tokens: t, op, origin, candidates };
    if (awaitsNext && !sure) out.awaitsNext = true;
    if (sure) out.sure = true;
    return out;
  }
}

/** "system:serviceaccount:<ns>:<name>" → ns / name */
function saNamespace(u: string): string { return u.split(':')[2] ?? ''; }
function saName(u: string): string { return u.split(':')[3] ?? ''; }

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
