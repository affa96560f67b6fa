/**
 * Ground truth for a recorded audit log, derived only from what the recorder knows: which user
 * ran which command when, and the RequestResponse bodies the apiserver logged.
 *
 * - own: a request by the step's user between the command's start and end (each user runs one
 *   command at a time, so this is unambiguous).
 * - cascade: a request by anyone else that touches an object linked to a step — the object
 *   itself (objectRef uid, body uid, or its name), its ownerReferences, an Event's
 *   involvedObject/regarding — where the link was last claimed by that step. Steps claim the
 *   objects their own and cascaded writes touch, so chains (Deployment → ReplicaSet → Pod →
 *   binding → status → Event) follow, and the most recent claim wins (a delete or scale takes
 *   the objects over from the create). Fallbacks with no object link: the namespace
 *   controller emptying a namespace a step deleted, and controllers filling a namespace a step
 *   just created (default ServiceAccount, kube-root-ca.crt).
 * - discovery: the step's user's API discovery GETs (`/api`, `/apis`, `/apis/<group>[/<v>]`,
 *   `/openapi/…`, `/version`) during the command: attributed to the step, for information, but
 *   not part of what it does (kubectl and helm refresh their discovery cache before any
 *   command), so not core; scored as background, like the hkerma capture's discovery tier.
 * - background: everything else (discovery by anyone else too).
 *
 * The parameters live in TRUTH_RULES.
 */
import type { AuditEvent } from '../types/audit.ts';
import { isDiscoveryRequest } from '../k8s/uri.ts';

export type Tier = 'own' | 'cascade' | 'discovery' | 'background';

/** Tiers that make up what an action did (its context must hold them); the others are background to it. */
export const CORE_TIERS: readonly Tier[] = ['own', 'cascade'];

export interface TruthRow { auditID: string; action: string | null; tier: Tier; user: string }

/** A step as the recorder ran it; `user` is the username the apiserver authenticates. */
export interface TruthStep { action: string; user: string; start: number; end: number }

export const TRUTH_RULES = {
  /** clock slack around a command's start/end for its own requests (same host clock) */
  ownSlackMs: 100,
  /** a cascade link only counts this long after its step ended */
  cascadeHorizonMs: 120_000,
  /** a write that leaves metadata.generation as it was keeps a live claim of another step */
  generationKeepsClaim: true,
  /** verbs whose requests claim the objects they touch for their action */
  claimVerbs: ['create', 'update', 'patch', 'delete', 'deletecollection'] as readonly string[],
  /** users that empty a namespace being deleted */
  namespaceSweepers: ['system:serviceaccount:kube-system:namespace-controller', 'system:kube-controller-manager'] as readonly string[],
  /** how long after a namespace create its controller-made objects count as that step's */
  namespaceBirthMs: 15_000,
  /** resources controllers create into every new namespace */
  namespaceBirthResources: ['serviceaccounts', 'configmaps', 'secrets'] as readonly string[],
  /** the apiserver's admission plugins read these in the namespace of a write they admit */
  admissionReads: { user: 'system:apiserver', resources: ['limitranges', 'resourcequotas'] as readonly string[], withinMs: 1000 },
};
export type TruthRules = typeof TRUTH_RULES;

interface Claim { action: string; at: number; stepEnd: number }

export function eventTime(e: AuditEvent): number {
  // RFC3339 with microseconds; Date.parse keeps milliseconds
  return Date.parse(e.requestReceivedTimestamp);
}

function meta(o: any): any { return o && typeof o === 'object' ? o.metadata : undefined; }

/** Key for an object by name; subresources address their parent. */
function nameKey(group: string | undefined, resource: string | undefined, ns: string | undefined, name: string | undefined): string | undefined {
  if (!resource || !name) return undefined;
  return `${group ?? ''}/${resource}/${ns ?? ''}/${name}`;
}

const KIND_RESOURCE: Record<string, [string, string]> = {
  Pod: ['', 'pods'], ReplicaSet: ['apps', 'replicasets'], Deployment: ['apps', 'deployments'], StatefulSet: ['apps', 'statefulsets'],
  DaemonSet: ['apps', 'daemonsets'], Job: ['batch', 'jobs'], CronJob: ['batch', 'cronjobs'], Service: ['', 'services'],
  Node: ['', 'nodes'], Namespace: ['', 'namespaces'], PersistentVolumeClaim: ['', 'persistentvolumeclaims'],
  ConfigMap: ['', 'configmaps'], Secret: ['', 'secrets'], ServiceAccount: ['', 'serviceaccounts'],
  CertificateSigningRequest: ['certificates.k8s.io', 'certificatesigningrequests'], Endpoints: ['', 'endpoints'],
};

/** resource → the resource of the same name it belongs to */
const SAME_NAME_PARENT: Record<string, [string, string]> = { endpoints: ['', 'services'] };

/** uids of the pods an Endpoints (subsets[].addresses/notReadyAddresses) or EndpointSlice (endpoints[]) lists. */
function endpointTargets(body: any): string[] {
  const out: string[] = [];
  if (body?.kind === 'Endpoints') {
    for (const s of (body.subsets ?? []) as any[]) for (const a of [...(s?.addresses ?? []), ...(s?.notReadyAddresses ?? [])] as any[]) if (a?.targetRef?.uid) out.push(a.targetRef.uid);
  } else if (body?.kind === 'EndpointSlice') {
    for (const e of (body.endpoints ?? []) as any[]) if (e?.targetRef?.uid) out.push(e.targetRef.uid);
  }
  return out;
}

/** The objects an event touches and links to: its own uid/name and its references. */
export function eventLinks(e: AuditEvent): { self: string[]; selfKeys: string[]; refs: string[]; refKeys: string[] } {
  const self: string[] = [];
  const selfKeys: string[] = [];
  const refs: string[] = [];
  const refKeys: string[] = [];
  const r = e.objectRef;
  if (r?.uid) self.push(r.uid);
  const k = nameKey(r?.apiGroup, r?.resource, r?.namespace, r?.name);
  if (k) selfKeys.push(k);
  for (const body of [e.responseObject, e.requestObject]) {
    const m = meta(body);
    if (!m || typeof m !== 'object') continue;
    // a Status (delete response) has no uid of its own; a List has none either
    const kind = body?.kind as string | undefined;
    if (kind && (kind.endsWith('List') || kind === 'Status')) continue;
    if (m.uid) self.push(m.uid);
    if (m.name && r?.resource && !r.subresource) { const kk = nameKey(r.apiGroup, r.resource, r.namespace ?? m.namespace, m.name); if (kk) selfKeys.push(kk); }
    for (const o of (m.ownerReferences ?? []) as any[]) if (o?.uid) refs.push(o.uid);
    // Endpoints and EndpointSlices change as the pods they list come and go: they link to those pods
    for (const t of endpointTargets(body)) refs.push(t);
    for (const inv of [body?.involvedObject, body?.regarding]) {
      if (!inv) continue;
      if (inv.uid) refs.push(inv.uid);
      const kr = KIND_RESOURCE[inv.kind as string];
      const kk = kr ? nameKey(kr[0], kr[1], inv.namespace, inv.name) : undefined;
      if (kk) refKeys.push(kk);
    }
  }
  // objects named after the object they serve, without an ownerReference (Endpoints of a Service)
  const parent = r?.resource ? SAME_NAME_PARENT[r.resource] : undefined;
  if (parent && r?.name) { const kk = nameKey(parent[0], parent[1], r.namespace, r.name); if (kk) refKeys.push(kk); }
  // a Service's ClusterIP is allocated as an IPAddress object named by the IP
  if (r?.resource === 'ipaddresses' && r.name) refKeys.push(`clusterip/${r.name}`);
  return { self, selfKeys, refs, refKeys };
}

/**
 * Derives one TruthRow per auditID. `events` may come in any order and carry several stages per
 * request; `steps` are all steps of the recording (of every run), with epoch-ms start/end.
 */
export function deriveTruth(events: readonly AuditEvent[], steps: readonly TruthStep[], rules: TruthRules = TRUTH_RULES): Map<string, TruthRow> {
  // one event per auditID (the last stage carries the response), in request order
  const byId = new Map<string, AuditEvent>();
  for (const e of events) {
    const prev = byId.get(e.auditID);
    if (!prev || (prev.stage !== 'ResponseComplete' && e.stage === 'ResponseComplete')) byId.set(e.auditID, e);
  }
  const ordered = [...byId.values()].map((e, i) => ({ e, t: eventTime(e), i }))
    .sort((a, b) => a.t - b.t || a.i - b.i);
  const stepsByUser = new Map<string, TruthStep[]>();
  for (const s of steps) {
    const list = stepsByUser.get(s.user) ?? [];
    list.push(s);
    stepsByUser.set(s.user, list);
  }
  const stepOf = new Map(steps.map((s) => [s.action, s]));
  const claims = new Map<string, Claim>(); // uid or name key → latest claim
  const nameToUid = new Map<string, string>();
  const generation = new Map<string, number>(); // uid → last metadata.generation seen
  const ownersOf = new Map<string, string[]>(); // uid → the references its last body named
  const lastWriteIn = new Map<string, Claim>(); // namespace → the claim of the latest write there
  const deletingNs = new Map<string, Claim>(); // namespace → claim of the step that deleted it
  const bornNs = new Map<string, Claim>(); // namespace → claim of the step that created it
  const out = new Map<string, TruthRow>();

  const live = (c: Claim | undefined, t: number): c is Claim => c !== undefined && t <= c.stepEnd + rules.cascadeHorizonMs;

  for (const { e, t } of ordered) {
    const username = e.user?.username ?? '';
    const links = eventLinks(e);
    // resolve names to uids we know (and learn new ones)
    const selfUids = new Set(links.self);
    for (const k of links.selfKeys) { const u = nameToUid.get(k); if (u) selfUids.add(u); }
    const refUids = new Set(links.refs);
    for (const k of links.refKeys) { const u = nameToUid.get(k); if (u) refUids.add(u); }
    // a request without a body naming references (a delete answered with a Status, a get of a
    // subresource) still links to what the object's last body referenced: the garbage
    // collector's delete of an EndpointSlice follows the Service deleted just before
    if (links.refs.length) for (const u of links.self) ownersOf.set(u, links.refs);
    else for (const u of selfUids) for (const o of ownersOf.get(u) ?? []) refUids.add(o);
    const createdUid = meta(e.responseObject)?.uid as string | undefined;
    const clusterIP = e.objectRef?.resource === 'services' ? (e.responseObject?.spec?.clusterIP ?? e.requestObject?.spec?.clusterIP) : undefined;
    if (createdUid && typeof clusterIP === 'string' && clusterIP !== 'None') nameToUid.set(`clusterip/${clusterIP}`, createdUid);
    const isDelete = e.verb === 'delete' || e.verb === 'deletecollection';
    if (createdUid && e.responseStatus?.code !== undefined && e.responseStatus.code < 300) {
      for (const k of links.selfKeys) {
        if (isDelete) { if (nameToUid.get(k) === createdUid) { /* keep until the name is reused */ } }
        nameToUid.set(k, createdUid);
      }
    }

    let action: string | null = null;
    let tier: Tier = 'background';
    const own = stepsByUser.get(username)?.find((s) => t >= s.start - rules.ownSlackMs && t <= s.end + rules.ownSlackMs);
    if (own) { action = own.action; tier = isDiscoveryRequest(e) ? 'discovery' : 'own'; }
    else {
      let best: Claim | undefined;
      for (const u of [...selfUids, ...refUids]) {
        for (const c of [claims.get(u)]) if (live(c, t) && (!best || c.at > best.at)) best = c;
      }
      const r = e.objectRef;
      const ar = rules.admissionReads;
      if (!best && r?.namespace && username === ar.user && e.verb === 'list' && r.resource && ar.resources.includes(r.resource)) {
        const w = lastWriteIn.get(r.namespace);
        if (w && Math.abs(t - w.at) <= ar.withinMs && live(w, t)) best = w;
      }
      if (!best && r?.namespace) {
        const sweep = deletingNs.get(r.namespace);
        if (live(sweep, t) && rules.namespaceSweepers.includes(username)) best = sweep;
        const born = bornNs.get(r.namespace);
        if (!best && born && t <= born.at + rules.namespaceBirthMs && e.verb === 'create' && username.startsWith('system:')
          && r.resource && rules.namespaceBirthResources.includes(r.resource)) best = born;
      }
      // the namespace object itself while it is being finalized
      if (!best && r?.resource === 'namespaces' && r.name) {
        const sweep = deletingNs.get(r.name);
        if (live(sweep, t)) best = sweep;
      }
      if (best) { action = best.action; tier = 'cascade'; }
    }
    const gen0 = meta(e.responseObject)?.generation as number | undefined;
    const genUid = createdUid;
    if (action) {
      const step = stepOf.get(action)!;
      const succeeded = (e.responseStatus?.code ?? 200) < 400;
      if (rules.claimVerbs.includes(e.verb) && succeeded) {
        const claim: Claim = { action, at: t, stepEnd: step.end };
        // A write that leaves metadata.generation unchanged (labels, annotations, status) does
        // not take an object over from a step whose cascade is still running on it.
        const gen = meta(e.responseObject)?.generation as number | undefined;
        const keep = (u: string) => {
          const prev = claims.get(u);
          return rules.generationKeepsClaim && !isDelete && gen !== undefined && generation.get(u) === gen && prev !== undefined && prev.action !== action && live(prev, t);
        };
        for (const u of new Set([...selfUids, ...(createdUid ? [createdUid] : [])])) if (!keep(u)) claims.set(u, claim);
        if (e.objectRef?.namespace) lastWriteIn.set(e.objectRef.namespace, claim);
        const r = e.objectRef;
        if (r?.resource === 'namespaces' && !r.subresource) {
          const ns = r.name ?? (meta(e.responseObject)?.name as string | undefined);
          if (ns && e.verb === 'create') bornNs.set(ns, claim);
          if (ns && e.verb === 'delete' && tier === 'own') deletingNs.set(ns, claim);
        }
      }
    }
    if (genUid && gen0 !== undefined && (e.responseStatus?.code ?? 200) < 400) generation.set(genUid, gen0);
    out.set(e.auditID, { auditID: e.auditID, action, tier, user: action ? stepOf.get(action)!.user : username });
  }
  return out;
}

/** Counts per tier, for manifests and spot checks. */
export function truthCounts(rows: Iterable<TruthRow>): Record<Tier, number> {
  const c: Record<Tier, number> = { own: 0, cascade: 0, discovery: 0, background: 0 };
  for (const r of rows) c[r.tier]++;
  return c;
}
