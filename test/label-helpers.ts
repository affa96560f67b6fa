// Hand-made audit events for the labeler tests.
import type { AuditEvent, ObjectReference } from '../src/types/audit.ts';
import type { KEvent } from '../src/types/pipeline.ts';

let n = 0;
export interface Ev {
  verb: string;
  user: string;
  groups?: string[];
  ua?: string;
  ref?: ObjectReference;
  uri?: string;
  t?: number;
  req?: unknown;
  resp?: unknown;
  code?: number;
  label?: string;
  context?: string;
}

export const KUBECTL = 'kubectl/v1.30.2 (linux/amd64) kubernetes/39683505';
export const kcm = (c: string) => `kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/39683505/system:serviceaccount:kube-system:${c}`;

export function ev(e: Ev): AuditEvent {
  const t = new Date(Date.UTC(2026, 0, 1) + (e.t ?? n)).toISOString().replace('Z', '123Z');
  n++;
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: `id-${n}`, stage: 'ResponseComplete',
    requestURI: e.uri ?? `/api/v1/${e.ref?.resource ?? ''}`, verb: e.verb,
    user: { username: e.user, groups: e.groups ?? ['system:authenticated'] }, userAgent: e.ua ?? KUBECTL,
    ...(e.ref ? { objectRef: e.ref } : {}),
    responseStatus: { code: e.code ?? (e.verb === 'create' ? 201 : 200) },
    ...(e.req ? { requestObject: e.req } : {}), ...(e.resp ? { responseObject: e.resp } : {}),
    requestReceivedTimestamp: t, stageTimestamp: t,
    annotations: { 'authorization.k8s.io/decision': 'allow', ...(e.label ? { 'sim.kontext.io/label': e.label, 'sim.kontext.io/context': e.context ?? 'c' } : {}) },
  };
}

export function kev(a: AuditEvent, time = Date.parse(a.requestReceivedTimestamp)): KEvent { return { audit: a, time }; }

/** A deployment create cascade: user create → RS create → pod create → binding → kubelet status. */
export function deploymentCascade(t0: number, ns: string, name: string, user = 'alice'): AuditEvent[] {
  const d = `uid-d-${name}`; const rs = `uid-rs-${name}`; const pod = `uid-p-${name}`;
  const label = 'create apps/deployments'; const context = `ctx-${name}`;
  return [
    ev({ t: t0, verb: 'create', user, ref: { resource: 'deployments', apiGroup: 'apps', namespace: ns, name }, req: { kind: 'Deployment', metadata: { name } }, resp: { kind: 'Deployment', metadata: { name, uid: d } }, label, context }),
    ev({ t: t0 + 5, verb: 'create', user: 'system:serviceaccount:kube-system:deployment-controller', ua: kcm('deployment-controller'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: ns, name: `${name}-abc` }, req: { kind: 'ReplicaSet', metadata: { name: `${name}-abc`, ownerReferences: [{ kind: 'Deployment', uid: d }] } }, resp: { kind: 'ReplicaSet', metadata: { name: `${name}-abc`, uid: rs, ownerReferences: [{ kind: 'Deployment', uid: d }] } }, label, context }),
    ev({ t: t0 + 9, verb: 'create', user: 'system:serviceaccount:kube-system:replicaset-controller', ua: kcm('replicaset-controller'), ref: { resource: 'pods', namespace: ns, name: `${name}-abc-x1` }, req: { kind: 'Pod', metadata: { ownerReferences: [{ kind: 'ReplicaSet', uid: rs }] } }, resp: { kind: 'Pod', metadata: { name: `${name}-abc-x1`, uid: pod, ownerReferences: [{ kind: 'ReplicaSet', uid: rs }] } }, label, context }),
    ev({ t: t0 + 12, verb: 'create', user: 'system:kube-scheduler', ua: 'kube-scheduler/v1.30.2 (linux/amd64) kubernetes/39683505/scheduler', ref: { resource: 'pods', namespace: ns, name: `${name}-abc-x1`, subresource: 'binding' }, req: { kind: 'Binding' }, label, context }),
    ev({ t: t0 + 30, verb: 'patch', user: 'system:node:worker-1', groups: ['system:nodes', 'system:authenticated'], ua: 'kubelet/v1.30.2 (linux/amd64) kubernetes/39683505', ref: { resource: 'pods', namespace: ns, name: `${name}-abc-x1`, subresource: 'status' }, label, context }),
  ];
}
