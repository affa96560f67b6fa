/**
 * Link keys of an audit event: the strings under which the clusterer indexes contexts and
 * looks up candidates. Two events that share a key are related; the key's kind says how
 * strongly (see WEIGHTS).
 *
 *   o:<resource>:<ns>/<name>  the object itself, its owners, involvedObject/regarding, claimRef,
 *                             volumeName (resource without subresource: pods/binding → the pod)
 *   u:<uid>                   object uid, owner uid, involvedObject uid
 *   f:<ns>/<base>             name family: the name with generated suffixes stripped
 *                             (web → web-6d4cf56db6 → web-6d4cf56db6-x2k4q, endpointslice web-abc12)
 *   n:<ns>                    the namespace object <ns>; registered only by events on the
 *                             namespace itself, looked up by every event inside it
 *   k:<node>:<ns>             a pod bound to <node> in <ns> (pods/binding target) and the
 *                             kubelet of <node> working in <ns> (token, configmap reflectors)
 *   h:<resource>:<ns>/<name>  an object many actions touch (quota, default service account,
 *                             CA bundle): a weak link only
 *   s:<ns>                    same namespace (weak)
 *   a:<user> / y:<user>       same non-system user (strong) / same system identity (weak)
 */
import type { AuditEvent } from '../types/audit.ts';
import { isSystemUser } from '../k8s/identity.ts';
import { isHubObject, nameFamily } from '../k8s/names.ts';
import { pluralOfKind } from '../k8s/resources.ts';

export { isHubObject, nameFamily, pluralOfKind };

export const WEIGHTS: Record<string, number> = {
  o: 100,
  u: 80,
  n: 80,
  f: 60,
  k: 60,
  h: 5,
  a: 50,
  y: 10,
  s: 15,
};

export function keyWeight(key: string): number {
  return WEIGHTS[key[0]!] ?? 0;
}

export interface EventKeys {
  /** keys registered for the context the event joins (and looked up) */
  own: string[];
  /** keys only looked up */
  probe: string[];
}

function groupOfApiVersion(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

function resKey(group: string, resource: string): string {
  return group ? `${group}/${resource}` : resource;
}

function addObj(out: Set<string>, group: string, resource: string, ns: string | undefined, name: string | undefined): void {
  if (!resource || !name) return;
  const rk = resKey(group, resource);
  out.add(`${isHubObject(rk, name) ? 'h' : 'o'}:${rk}:${ns ?? ''}/${name}`);
}

function addRef(out: Set<string>, ref: any, defaultNs: string | undefined): void {
  if (!ref || typeof ref !== 'object') return;
  if (typeof ref.uid === 'string' && ref.uid) out.add(`u:${ref.uid}`);
  if (typeof ref.kind === 'string' && typeof ref.name === 'string') {
    const ns = typeof ref.namespace === 'string' ? ref.namespace : defaultNs;
    addObj(out, groupOfApiVersion(ref.apiVersion), pluralOfKind(ref.kind), ns, ref.name);
    if (ns !== undefined) {
      const fam = nameFamily(pluralOfKind(ref.kind), ref.name);
      if (fam) out.add(`f:${ns}/${fam}`);
    }
  }
}

function addBody(out: Set<string>, obj: any, ns: string | undefined): void {
  if (!obj || typeof obj !== 'object') return;
  const md = obj.metadata;
  if (md && typeof md === 'object') {
    if (typeof md.uid === 'string' && md.uid) out.add(`u:${md.uid}`);
    if (Array.isArray(md.ownerReferences)) {
      for (const o of md.ownerReferences.slice(0, 8)) addRef(out, { ...o, namespace: ns }, ns);
    }
  }
  // core/v1 Event and events.k8s.io/v1 Event
  if (obj.involvedObject) addRef(out, obj.involvedObject, ns);
  if (obj.regarding) addRef(out, obj.regarding, ns);
  if (obj.related) addRef(out, obj.related, ns);
  const spec = obj.spec;
  if (spec && typeof spec === 'object') {
    if (spec.claimRef) addRef(out, { kind: 'PersistentVolumeClaim', ...spec.claimRef }, spec.claimRef.namespace);
    if (typeof spec.volumeName === 'string' && spec.volumeName) addObj(out, '', 'persistentvolumes', '', spec.volumeName);
  }
  // pods/binding: the target node is not a link (every pod on it would be related)
}

/**
 * The keys of an event that its compact member (store) cannot give back: those from the
 * request/response bodies and the objectRef's uid. Empty for most events (no bodies, no uid).
 */
export function bodyKeys(a: AuditEvent): string[] {
  if (a.requestObject === undefined && a.responseObject === undefined && !a.objectRef?.uid) return [];
  const full = eventKeys(a).own;
  const { requestObject: _q, responseObject: _r, ...rest } = a;
  const base = new Set(eventKeys({ ...rest, objectRef: a.objectRef ? { ...a.objectRef, uid: undefined } : undefined } as AuditEvent).own);
  return full.filter((k) => !base.has(k));
}

/** Keys of one event. Reads objectRef, user and (when logged) request/response bodies. */
export function eventKeys(a: AuditEvent): EventKeys {
  const own = new Set<string>();
  const probe: string[] = [];
  const r = a.objectRef;
  const ns = r?.namespace || undefined;
  if (r?.resource) {
    const group = r.apiGroup ?? '';
    const rk = resKey(group, r.resource);
    if (r.name) {
      addObj(own, group, r.resource, ns, r.name);
      if (ns !== undefined && !isHubObject(rk, r.name)) {
        const fam = nameFamily(rk, r.name);
        if (fam) own.add(`f:${ns}/${fam}`);
      }
      if (rk === 'namespaces') own.add(`n:${r.name}`);
    }
    if (r.uid) own.add(`u:${r.uid}`);
  }
  // the scheduler binds a pod to a node; that node's kubelet then works in the namespace
  const target = a.requestObject?.target;
  if (r?.subresource === 'binding' && ns !== undefined && target && typeof target.name === 'string') own.add(`k:${target.name}:${ns}`);
  const user = a.user?.username;
  if (ns !== undefined && user?.startsWith('system:node:')) own.add(`k:${user.slice('system:node:'.length)}:${ns}`);
  addBody(own, a.requestObject, ns);
  addBody(own, a.responseObject, ns);
  if (ns !== undefined) {
    own.add(`s:${ns}`);
    probe.push(`n:${ns}`);
  }
  if (user) own.add(isSystemUser(user) ? `y:${user}` : `a:${user}`);
  return { own: [...own], probe };
}
