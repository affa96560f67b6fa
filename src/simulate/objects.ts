/**
 * Builders of Kubernetes object bodies as the apiserver stores and returns them: metadata with
 * managedFields, labels, annotations, ownerReferences, defaulted specs and statuses. Sizes come
 * out as on a real cluster because the bodies are what a real cluster returns.
 */
import { rfc3339Micro, rfc3339Sec } from './time.ts';

export type Body = Record<string, any>;

export interface OwnerRef { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }

export interface ManagedEntry {
  manager: string;
  operation?: 'Update' | 'Apply';
  apiVersion: string;
  time: number;
  /** the part of the object this manager set; becomes fieldsV1 */
  fields: Body;
  subresource?: string;
}

/** fieldsV1 of a (partial) object: f:<field> for struct/map keys, k:{...} for keyed list items. */
export function fieldsV1(v: unknown): Body {
  if (Array.isArray(v)) {
    const out: Body = {};
    for (const item of v) {
      if (item && typeof item === 'object') {
        const key = listKey(item as Body);
        if (key) { out[`k:${key}`] = { '.': {}, ...fieldsV1(item) }; continue; }
      }
      if (typeof item === 'string') out[`v:${JSON.stringify(item)}`] = {};
    }
    return out;
  }
  if (v && typeof v === 'object') {
    const out: Body = {};
    for (const [k, x] of Object.entries(v as Body)) {
      if (x === undefined) continue;
      const sub = fieldsV1(x);
      out[`f:${k}`] = (k === 'labels' || k === 'annotations' || k === 'matchLabels' || k === 'selector' || k === 'data') && x && typeof x === 'object' && !Array.isArray(x)
        ? { '.': {}, ...sub } : sub;
    }
    return out;
  }
  return {};
}

function listKey(item: Body): string | undefined {
  if ('type' in item && ('status' in item)) return JSON.stringify({ type: item.type });
  if ('containerPort' in item) return JSON.stringify({ containerPort: item.containerPort, protocol: item.protocol ?? 'TCP' });
  if ('port' in item && 'protocol' in item) return JSON.stringify({ port: item.port, protocol: item.protocol });
  if ('uid' in item && 'kind' in item) return JSON.stringify({ uid: item.uid });
  if ('name' in item) return JSON.stringify({ name: item.name });
  if ('ip' in item) return JSON.stringify({ ip: item.ip });
  if ('mountPath' in item) return JSON.stringify({ mountPath: item.mountPath });
  return undefined;
}

export function managed(entries: ManagedEntry[]): Body[] {
  return entries.map((e) => ({
    manager: e.manager, operation: e.operation ?? 'Update', apiVersion: e.apiVersion, time: rfc3339Sec(e.time),
    fieldsType: 'FieldsV1', fieldsV1: fieldsV1(e.fields), ...(e.subresource ? { subresource: e.subresource } : {}),
  }));
}

export interface MetaIn {
  name: string;
  namespace?: string;
  uid: string;
  rv: string;
  created: number;
  generation?: number;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owners?: OwnerRef[];
  finalizers?: string[];
  managed?: ManagedEntry[];
}

export function meta(m: MetaIn): Body {
  return {
    name: m.name,
    ...(m.generateName ? { generateName: m.generateName } : {}),
    ...(m.namespace ? { namespace: m.namespace } : {}),
    uid: m.uid,
    resourceVersion: m.rv,
    ...(m.generation !== undefined ? { generation: m.generation } : {}),
    creationTimestamp: rfc3339Sec(m.created),
    ...(m.labels && Object.keys(m.labels).length ? { labels: m.labels } : {}),
    ...(m.annotations && Object.keys(m.annotations).length ? { annotations: m.annotations } : {}),
    ...(m.owners?.length ? { ownerReferences: m.owners } : {}),
    ...(m.finalizers?.length ? { finalizers: m.finalizers } : {}),
    ...(m.managed?.length ? { managedFields: managed(m.managed) } : {}),
  };
}

export function ownerRef(apiVersion: string, kind: string, body: Body, controller = true): OwnerRef {
  return { apiVersion, kind, name: body.metadata.name, uid: body.metadata.uid, ...(controller ? { controller: true, blockOwnerDeletion: true } : {}) };
}

/** A deep copy for a record: later state changes must not leak into logged bodies. */
export function snap<T>(b: T): T { return structuredClone(b); }

// ---------------------------------------------------------------- pods

export interface ContainerIn { name: string; image: string; port?: number; env?: Record<string, string>; resources?: Body; args?: string[]; command?: string[]; volumeMounts?: Body[]; securityContext?: Body }

export function containerSpec(c: ContainerIn): Body {
  return {
    name: c.name, image: c.image,
    ...(c.command ? { command: c.command } : {}),
    ...(c.args ? { args: c.args } : {}),
    ...(c.port ? { ports: [{ containerPort: c.port, protocol: 'TCP' }] } : {}),
    ...(c.env ? { env: Object.entries(c.env).map(([name, value]) => ({ name, value })) } : {}),
    resources: c.resources ?? {},
    ...(c.volumeMounts ? { volumeMounts: c.volumeMounts } : {}),
    terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: c.image.endsWith(':latest') ? 'Always' : 'IfNotPresent',
    ...(c.securityContext ? { securityContext: c.securityContext } : {}),
  };
}

/** The pod template a workload carries (what a user writes, defaulted by the apiserver). */
export function podTemplate(labels: Record<string, string>, containers: ContainerIn[], extra: Body = {}): Body {
  return {
    metadata: { creationTimestamp: null, labels },
    spec: {
      ...(extra.volumes ? { volumes: extra.volumes } : {}),
      containers: containers.map(containerSpec),
      restartPolicy: extra.restartPolicy ?? 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst',
      ...(extra.serviceAccountName ? { serviceAccountName: extra.serviceAccountName, serviceAccount: extra.serviceAccountName } : {}),
      ...(extra.nodeSelector ? { nodeSelector: extra.nodeSelector } : {}),
      securityContext: {}, schedulerName: 'default-scheduler',
      ...(extra.tolerations ? { tolerations: extra.tolerations } : {}),
      ...(extra.hostNetwork ? { hostNetwork: true } : {}),
      ...(extra.hostPID ? { hostPID: true } : {}),
      ...(extra.affinity ? { affinity: extra.affinity } : {}),
      ...(extra.subdomain ? { hostname: extra.hostname, subdomain: extra.subdomain } : {}),
    },
  };
}

const DEFAULT_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

/** What the apiserver stores for a pod created from `template` (admission defaults applied). */
export function podSpecFrom(template: Body, apiAccessVolume: string): Body {
  const t = template.spec;
  const sa = t.serviceAccountName ?? 'default';
  const mount = { name: apiAccessVolume, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };
  const { volumes, containers, restartPolicy, terminationGracePeriodSeconds, dnsPolicy, serviceAccountName: _sa, serviceAccount: _sa2, securityContext, schedulerName, tolerations, ...rest } = snap(t);
  void _sa; void _sa2;
  return {
    volumes: [...(volumes ?? []), {
      name: apiAccessVolume,
      projected: {
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
        defaultMode: 420,
      },
    }],
    containers: containers.map((c: Body) => ({ ...c, volumeMounts: [...(c.volumeMounts ?? []), mount] })),
    restartPolicy: restartPolicy ?? 'Always', terminationGracePeriodSeconds: terminationGracePeriodSeconds ?? 30, dnsPolicy: dnsPolicy ?? 'ClusterFirst',
    serviceAccountName: sa, serviceAccount: sa,
    ...rest,
    securityContext: securityContext ?? {}, schedulerName: schedulerName ?? 'default-scheduler',
    tolerations: [...(tolerations ?? []), ...DEFAULT_TOLERATIONS.filter((d) => !(tolerations ?? []).some((x: Body) => x.key === d.key))],
    priority: 0, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority',
  };
}

export function qosClass(spec: Body): string {
  const rs = spec.containers.map((c: Body) => c.resources ?? {});
  if (rs.every((r: Body) => !r.requests && !r.limits)) return 'BestEffort';
  if (rs.every((r: Body) => r.limits && r.requests && JSON.stringify(r.limits) === JSON.stringify(r.requests))) return 'Guaranteed';
  return 'Burstable';
}

export function condition(type: string, status: 'True' | 'False', at: number, reason?: string, message?: string, probe = true): Body {
  return { type, status, ...(probe ? { lastProbeTime: null } : {}), lastTransitionTime: rfc3339Sec(at), ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

// ---------------------------------------------------------------- events

export interface EventIn {
  ns: string;
  name: string;
  uid: string;
  rv: string;
  at: number;
  involved: { kind: string; apiVersion: string; namespace?: string; name: string; uid: string; resourceVersion?: string; fieldPath?: string };
  reason: string;
  message: string;
  type?: 'Normal' | 'Warning';
  component: string;
  host?: string;
  manager: string;
}

/** core/v1 Event as client-go's legacy recorder posts it (controllers, kubelet). Returns [request, response]. */
export function coreEvent(e: EventIn): [Body, Body] {
  const ts = rfc3339Sec(e.at);
  const body: Body = {
    kind: 'Event', apiVersion: 'v1',
    metadata: { name: e.name, namespace: e.ns, creationTimestamp: null },
    involvedObject: e.involved,
    reason: e.reason, message: e.message,
    source: { component: e.component, ...(e.host ? { host: e.host } : {}) },
    firstTimestamp: ts, lastTimestamp: ts, count: 1, type: e.type ?? 'Normal', eventTime: null,
    reportingComponent: e.component, reportingInstance: e.host ?? '',
  };
  const resp = snap(body);
  resp.metadata = meta({
    name: e.name, namespace: e.ns, uid: e.uid, rv: e.rv, created: e.at,
    managed: [{ manager: e.manager, apiVersion: 'v1', time: e.at, fields: { count: 1, firstTimestamp: 1, involvedObject: e.involved, lastTimestamp: 1, message: 1, reason: 1, reportingComponent: 1, source: body.source, type: 1 } }],
  });
  return [body, resp];
}

/** events.k8s.io/v1 Event as the scheduler and newer components post it. Returns [request, response]. */
export function eventsV1(e: EventIn & { action: string; instance: string }): [Body, Body] {
  const body: Body = {
    kind: 'Event', apiVersion: 'events.k8s.io/v1',
    metadata: { name: e.name, namespace: e.ns, creationTimestamp: null },
    eventTime: rfc3339Micro(e.at), reportingController: e.component, reportingInstance: e.instance,
    action: e.action, reason: e.reason, regarding: e.involved, note: e.message, type: e.type ?? 'Normal',
  };
  const resp = snap(body);
  resp.metadata = meta({
    name: e.name, namespace: e.ns, uid: e.uid, rv: e.rv, created: e.at,
    managed: [{ manager: e.manager, apiVersion: 'events.k8s.io/v1', time: e.at, fields: { action: 1, eventTime: 1, note: 1, reason: 1, regarding: e.involved, reportingController: 1, reportingInstance: 1, type: 1 } }],
  });
  return [body, resp];
}

export function involved(kind: string, apiVersion: string, b: Body, fieldPath?: string): EventIn['involved'] {
  return {
    kind, ...(b.metadata.namespace ? { namespace: b.metadata.namespace } : {}), name: b.metadata.name, uid: b.metadata.uid,
    apiVersion, resourceVersion: b.metadata.resourceVersion, ...(fieldPath ? { fieldPath } : {}),
  };
}

// ---------------------------------------------------------------- misc

export function statusSuccess(group: string, resource: string, name: string, uid: string): Body {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, ...(group ? { group } : {}), kind: resource, uid } };
}

export function deleteOptions(extra: Body = {}): Body {
  return { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/__internal', ...extra };
}

export function listOf(kind: string, apiVersion: string, rv: string, items: Body[]): Body {
  return { kind: `${kind}List`, apiVersion, metadata: { resourceVersion: rv }, items };
}

/** a PEM blob of realistic length (certificates, CA bundles) */
export function pem(label: string, hexStr: string, lines = 17): string {
  const b64 = Buffer.from(hexStr.repeat(Math.ceil((lines * 48) / hexStr.length)), 'hex').toString('base64').replace(/[^A-Za-z0-9]/g, 'A');
  const out: string[] = [`-----BEGIN ${label}-----`];
  for (let i = 0; i < lines; i++) out.push(b64.slice(i * 64, i * 64 + 64).padEnd(64, 'Q'));
  out.push(`-----END ${label}-----`);
  return out.join('\n') + '\n';
}
