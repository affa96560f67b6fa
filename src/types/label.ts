/**
 * A label names the operation that triggered an event's context. Every event of a cascade
 * carries its trigger's label (K8NTEXT model). Background traffic that belongs to no user
 * action gets a `background` label from inference rules.
 */
export type VerbClass = 'create' | 'delete' | 'get-list' | 'patch-update' | 'watch';

export interface TriggerLabel {
  kind: 'trigger';
  /** "<apiGroup>/<resource>" for named groups, "<resource>" for the core group, e.g. "apps/deployments", "pods". */
  resource: string;
  subresource?: string;
  namespaced: boolean;
  /** single object (has a name) or a collection request */
  scope: 'single' | 'list';
  verbClass: VerbClass;
}

export type BackgroundKind =
  | 'lease'          // leader election / node heartbeat leases
  | 'node-status'    // kubelet node status patches
  | 'discovery'      // /api, /apis, openapi, version GETs
  | 'watch'          // long-running list/watch of controllers
  | 'token'          // serviceaccount token requests/reviews, subjectaccessreviews
  | 'events'         // event recording not tied to a user action
  | 'controller'     // controller resyncs and periodic reconciles
  | 'other';

export interface BackgroundLabel {
  kind: 'background';
  background: BackgroundKind;
}

export type Label = TriggerLabel | BackgroundLabel;

/** Canonical string of a label; the model's classes and ES `label` field use it. */
export function labelKey(l: Label): string {
  if (l.kind === 'background') return `background ${l.background}`;
  const res = l.subresource ? `${l.resource}/${l.subresource}` : l.resource;
  return `${l.verbClass}${l.scope === 'list' ? '-collection' : ''} ${res}${l.namespaced ? '' : ' (cluster)'}`;
}

/** Inverse of labelKey. Throws on a string that is not a label key. */
export function parseLabelKey(key: string): Label {
  const bg = /^background ([a-z-]+)$/.exec(key);
  if (bg) return { kind: 'background', background: bg[1] as BackgroundKind };
  const m = /^(create|delete|get-list|patch-update|watch)(-collection)? ([^ ]+?)( \(cluster\))?$/.exec(key);
  if (!m) throw new Error(`not a label key: ${JSON.stringify(key)}`);
  const [, verbClass, coll, res, cluster] = m;
  // resource may be "group/resource", "resource", "group/resource/sub" or "resource/sub"
  const parts = res!.split('/');
  let resource: string;
  let subresource: string | undefined;
  if (parts.length === 3) { resource = `${parts[0]}/${parts[1]}`; subresource = parts[2]; }
  else if (parts.length === 2 && !isApiGroup(parts[0]!)) { resource = parts[0]!; subresource = parts[1]; }
  else { resource = res!; }
  return {
    kind: 'trigger', resource, subresource, namespaced: !cluster,
    scope: coll ? 'list' : 'single', verbClass: verbClass as VerbClass,
  };
}

/** Named API groups without a dot; every other named group has one ("rbac.authorization.k8s.io"). */
export const DOTLESS_GROUPS = new Set(['apps', 'batch', 'policy', 'autoscaling']);
function isApiGroup(s: string): boolean { return s.includes('.') || DOTLESS_GROUPS.has(s); }

export function verbClassOf(verb: string): VerbClass {
  switch (verb) {
    case 'create': return 'create';
    case 'delete': case 'deletecollection': return 'delete';
    case 'get': case 'list': return 'get-list';
    case 'watch': return 'watch';
    default: return 'patch-update'; // patch, update, and anything else that mutates
  }
}
