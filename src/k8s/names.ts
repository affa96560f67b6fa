/**
 * Name families: how Kubernetes names the objects its controllers create, so an object can be
 * tied to its parent without a body (Metadata-level audit):
 *   Deployment web → ReplicaSet web-6d4cf56db6 (pod-template hash) → Pod web-6d4cf56db6-x2k4q
 *   StatefulSet db → Pod db-0, PVC data-db-0;  CronJob nightly → Job nightly-28391400
 *   Event <object>.<16 hex> (the object the event is about)
 *   ServiceAccount legacy token Secret <sa>-token-<5>;  EndpointSlice <service>-<5>
 */

// Generated name suffixes: Kubernetes' rand.String alphabet (no vowels, no 0/1/3).
const GEN5 = /-[bcdfghjklmnpqrstvwxz2456789]{5}$/;
const HASH = /-[bcdfghjklmnpqrstvwxz2456789]{6,10}$/;
const HEXHASH = /-[0-9a-f]{8,10}$/;
const ORDINAL = /-\d{1,3}$/;
const CRONSTAMP = /-\d{8,10}$/;
const EVENTSUFFIX = /\.[0-9a-f]{8,}$/;
const TOKENSUFFIX = /-token-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

/** Base name of an object name with generated suffixes removed ("" when nothing is left). */
export function nameFamily(resource: string, name: string): string {
  let n = name.replace(EVENTSUFFIX, '');
  if (resource === 'secrets') n = n.replace(TOKENSUFFIX, '');
  for (let i = 0; i < 3; i++) {
    const before = n;
    n = n.replace(GEN5, '');
    if (n === before) n = n.replace(HASH, '');
    if (n === before) n = n.replace(HEXHASH, '');
    if (n === before && (resource === 'pods' || resource === 'persistentvolumeclaims')) n = n.replace(ORDINAL, '');
    if (n === before && (resource === 'batch/jobs' || resource === 'pods')) n = n.replace(CRONSTAMP, '');
    if (n === before) break;
  }
  return n;
}

/**
 * The name of the object a child was named after, one generation up ("" when the name has no
 * generated suffix): a ReplicaSet's Deployment, a Pod's ReplicaSet / StatefulSet / Job, a Job's
 * CronJob, a legacy token Secret's ServiceAccount, an EndpointSlice's Service.
 */
export function parentName(resource: string, name: string): string {
  if (resource === 'secrets') { const n = name.replace(TOKENSUFFIX, ''); return n === name ? '' : n; }
  let n = name.replace(GEN5, '');
  if (n === name) n = name.replace(HASH, '');
  if (n === name) n = name.replace(HEXHASH, '');
  if (n === name && resource === 'pods') n = name.replace(ORDINAL, '');
  if (n === name && (resource === 'batch/jobs' || resource === 'pods')) n = name.replace(CRONSTAMP, '');
  return n === name ? '' : n;
}

/** The name of the object an Event is about (`<object>.<hex>`), or undefined. */
export function eventSubject(name: string): string | undefined {
  return EVENTSUFFIX.test(name) ? name.replace(EVENTSUFFIX, '') : undefined;
}

/** Objects shared by many unrelated actions in a namespace. */
export function isHubObject(resource: string, name: string): boolean {
  return resource === 'resourcequotas' || resource === 'limitranges'
    || (resource === 'serviceaccounts' && name === 'default')
    || (resource === 'configmaps' && name === 'kube-root-ca.crt');
}

/**
 * Prefixes of a name at its '-', '.' and ':' boundaries, longest last ("my-app-web" → "my",
 * "my-app", "my-app-web"); at most `max`.
 */
export function namePrefixes(name: string, max = 8): string[] {
  const out: string[] = [];
  for (let i = 1; i < name.length && out.length < max - 1; i++) {
    const ch = name[i];
    if (ch === '-' || ch === '.' || ch === ':') out.push(name.slice(0, i));
  }
  out.push(name);
  return out;
}
