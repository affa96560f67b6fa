/**
 * Elastic Common Schema (ECS) fields of a context summary, stored alongside kontext's own
 * fields so Kibana users and Elastic Security rules find contexts with the names they know:
 * `@timestamp`, `event.*`, `user.*`, `user_agent.original`, `source.ip`, `orchestrator.*` and
 * `kubernetes.audit.*` for the trigger event, named as Elastic's Kubernetes audit logs
 * integration names them (it copies `kubernetes.audit.verb` to `event.action`,
 * `user.username` to `user.name`, `userAgent` to `user_agent.original`, `sourceIPs` to
 * `source.ip`). Every value is derived from the summary: the fields are recomputed on every
 * write (the codec calls ecsFieldsOf) and dropped on every read (stripEcs), so they can never
 * disagree with kontext's own, and a stored document's ECS block is never read back as data.
 */
import type { ContextDoc, Outcome } from '../types/context.ts';

/** The ECS version the fields follow (`api` in event.category needs 8.10 or later). */
export const ECS_VERSION = '8.17.0';

/** Top-level keys of a summary that belong to the ECS block (none of them is a ContextDoc field). */
export const ECS_KEYS = ['@timestamp', 'ecs', 'event', 'user', 'user_agent', 'source', 'orchestrator', 'kubernetes'] as const;

/**
 * event.type of the trigger's verb (ECS allowed values for category `api`): Kubernetes' verbs
 * (create, update/patch, delete/deletecollection, get/list/watch) map onto creation, change,
 * deletion and access; the connect verbs of exec/attach/port-forward are an `access` too.
 */
const VERB_TYPE: Record<string, string> = {
  create: 'creation', update: 'change', patch: 'change', delete: 'deletion', deletecollection: 'deletion',
  get: 'access', list: 'access', watch: 'access', proxy: 'access',
};

/**
 * event.category beyond `api` (every context is an API call of the kube-apiserver), as named
 * rules over the trigger's API group and resource: who-may-do-what objects are identity and
 * access management (ECS `iam`): RBAC roles and bindings, service accounts (identities of
 * workloads) and certificate signing requests (client certificates are identities).
 */
export const ECS_CATEGORY_RULES: ReadonlyArray<{ name: string; category: string; apiGroup?: string; resource?: string }> = [
  { name: 'rbac', category: 'iam', apiGroup: 'rbac.authorization.k8s.io' },
  { name: 'service-account', category: 'iam', apiGroup: '', resource: 'serviceaccounts' },
  { name: 'certificate-signing', category: 'iam', apiGroup: 'certificates.k8s.io' },
];

/** HTTP 403: the authorizer (or an admission webhook) refused the request. */
const FORBIDDEN = 403;

type Source = Omit<ContextDoc, 'members'> & { cluster?: string };

export interface EcsFields {
  '@timestamp': string;
  ecs: { version: string };
  event: {
    kind: 'event'; module: 'kontext'; dataset: 'kontext.context'; category: string[]; type: string[];
    action: string; outcome: 'success' | 'failure' | 'unknown'; start: string; end: string; duration: number;
  };
  user: { name: string; group?: { name: string[] }; effective?: { name: string } };
  user_agent?: { original: string };
  source?: { ip: string };
  orchestrator: {
    type: 'kubernetes'; cluster?: { name: string }; namespace?: string;
    resource?: { type: string; name?: string };
  };
  kubernetes: { audit: Record<string, unknown> };
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

/**
 * event.outcome: for an action, the trigger request's answer (what the integration records
 * for that audit event: 2xx/3xx success, 4xx/5xx failure); background traffic has no request
 * of its own, so it is the members' answer, and a mix of both is `unknown`.
 */
export function ecsOutcome(ctx: { outcome: Outcome; label: string; trigger?: { code: number } }): 'success' | 'failure' | 'unknown' {
  if (!String(ctx.label ?? '').startsWith('background ')) return (ctx.trigger?.code ?? 0) >= 400 ? 'failure' : 'success';
  return ctx.outcome === 'success' ? 'success' : ctx.outcome === 'partial' ? 'unknown' : 'failure';
}

export function ecsCategories(trigger: { apiGroup: string; resource: string }): string[] {
  const out = ['api'];
  for (const r of ECS_CATEGORY_RULES) {
    if (r.apiGroup !== undefined && r.apiGroup !== trigger.apiGroup) continue;
    if (r.resource !== undefined && r.resource !== trigger.resource) continue;
    if (!out.includes(r.category)) out.push(r.category);
  }
  return out;
}

export function ecsTypes(trigger: { verb: string; code: number }, categories: readonly string[]): string[] {
  let t = VERB_TYPE[trigger.verb] ?? 'info';
  // ECS expects no `access` under `iam`: a read of who-may-do-what is an `info`
  if (t === 'access' && categories.includes('iam')) t = 'info';
  return trigger.code === FORBIDDEN ? [t, 'denied'] : [t];
}

/** The ECS block of a summary (pure: the same summary gives the same fields). */
export function ecsFieldsOf(ctx: Source): EcsFields {
  // a stored summary of an older or damaged layout may lack a trigger: its fields are then empty
  const t = ctx.trigger ?? { auditID: '', user: '', groups: [], userAgent: '', client: '', sourceIPs: [], verb: '', apiGroup: '', resource: '', code: 0 };
  const category = ecsCategories(t);
  const resource = t.resource ? (t.subresource ? `${t.resource}/${t.subresource}` : t.resource) : '';
  const objectRef: Record<string, string> = {};
  if (t.resource) objectRef.resource = t.resource;
  if (t.subresource) objectRef.subresource = t.subresource;
  if (t.apiGroup) objectRef.apiGroup = t.apiGroup;
  if (t.namespace) objectRef.namespace = t.namespace;
  if (t.name) objectRef.name = t.name;
  const audit: Record<string, unknown> = {
    auditID: t.auditID,
    verb: t.verb,
    user: { username: t.user, ...(t.groups?.length ? { groups: t.groups } : {}) },
    responseStatus: { code: t.code },
  };
  if (t.level) audit.level = t.level;
  if (Object.keys(objectRef).length) audit.objectRef = objectRef;
  if (t.impersonatedUser) audit.impersonatedUser = { username: t.impersonatedUser };
  if (t.userAgent) audit.userAgent = t.userAgent;
  if (t.sourceIPs?.length) audit.sourceIPs = t.sourceIPs;
  const out: EcsFields = {
    '@timestamp': iso(ctx.start),
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'event', module: 'kontext', dataset: 'kontext.context', category, type: ecsTypes(t, category),
      action: t.verb, outcome: ecsOutcome(ctx), start: iso(ctx.start), end: iso(ctx.end),
      // nanoseconds, as ECS defines event.duration
      duration: Math.max(0, (Number(ctx.end) || 0) - (Number(ctx.start) || 0)) * 1e6,
    },
    user: { name: t.user },
    orchestrator: { type: 'kubernetes' },
    kubernetes: { audit },
  };
  if (t.groups?.length) out.user.group = { name: t.groups };
  if (t.impersonatedUser) out.user.effective = { name: t.impersonatedUser };
  if (t.userAgent) out.user_agent = { original: t.userAgent };
  // the first source IP is the requester; later ones are the proxies it passed (Kubernetes' order)
  if (t.sourceIPs?.length) out.source = { ip: t.sourceIPs[0]! };
  if (ctx.cluster) out.orchestrator.cluster = { name: ctx.cluster };
  if (t.namespace) out.orchestrator.namespace = t.namespace;
  if (resource) out.orchestrator.resource = { type: resource, ...(t.name ? { name: t.name } : {}) };
  return out;
}

/** A stored summary without its ECS block (what readers decode). */
export function stripEcs<T extends object>(src: T): T {
  let out: T | undefined;
  for (const k of ECS_KEYS) {
    if (k in src) {
      out ??= { ...src };
      delete (out as Record<string, unknown>)[k];
    }
  }
  return out ?? src;
}

/** Does a stored summary already carry the ECS block of this kontext version? */
export function hasEcs(src: Record<string, any>): boolean {
  return typeof src['@timestamp'] === 'string' && src.ecs?.version === ECS_VERSION;
}
