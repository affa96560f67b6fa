/** RBAC changes: Roles, RoleBindings, ClusterRoles (with aggregation), ClusterRoleBindings. */
import type { Obj } from '../cluster.ts';
import { createObject, updateObject, deleteObject } from '../kube.ts';
import { managed, type Body } from '../objects.ts';
import type { Sim } from '../sim.ts';
import { MS, rfc3339Sec } from '../time.ts';
import { idle, kubectlManager, kubectlQuery, lastApplied, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';

const RBAC = 'rbac.authorization.k8s.io';

const RULESETS: Body[][] = [
  [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'pods/log'] }],
  [{ verbs: ['get', 'list', 'watch'], apiGroups: ['', 'apps'], resources: ['deployments', 'replicasets', 'pods', 'services'] }, { verbs: ['patch', 'update'], apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'] }],
  [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['db-credentials'] }],
  [{ verbs: ['create'], apiGroups: [''], resources: ['pods/exec', 'pods/portforward'] }, { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }],
  [{ verbs: ['*'], apiGroups: ['batch'], resources: ['jobs', 'cronjobs'] }],
];

function subjectFor(sim: Sim, ns?: string): Body {
  return sim.rng.weighted<Body>([
    [{ kind: 'User', apiGroup: RBAC, name: `oidc:${sim.rng.pick(['alice', 'bob', 'carol', 'dave', 'erin', 'newhire'])}@example.com` }, 3],
    [{ kind: 'Group', apiGroup: RBAC, name: sim.rng.pick(['oidc:developers', 'oidc:sre', 'oidc:data']) }, 2],
    [{ kind: 'ServiceAccount', name: sim.rng.pick(['build-bot', 'deployer', 'default', 'metrics-reader']), namespace: ns ?? 'ci' }, 2],
  ]);
}

/** The built-in aggregated roles the aggregation controller rewrites (their rule lists are long). */
function aggregatedRole(sim: Sim, name: 'view' | 'edit' | 'admin'): Obj {
  let o = sim.cluster.get(`${RBAC}/clusterroles`, undefined, name);
  if (o) return o;
  const t = sim.start - 30 * 86_400 * 1e6;
  const uid = sim.rng.uuid();
  const baseRules: Body[] = [
    { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['namespaces'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['apps'], resources: ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers', 'horizontalpodautoscalers/status'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['batch'], resources: ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['extensions'], resources: ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses', 'ingresses/status', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['policy'], resources: ['poddisruptionbudgets', 'poddisruptionbudgets/status'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'ingresses/status', 'networkpolicies'] },
    { verbs: ['get', 'list', 'watch'], apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'] },
  ];
  const body: Body = {
    kind: 'ClusterRole', apiVersion: `${RBAC}/v1`,
    metadata: {
      name, uid, resourceVersion: sim.cluster.rv(t), creationTimestamp: rfc3339Sec(t),
      labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults', ...(name === 'view' ? { [`${RBAC}/aggregate-to-edit`]: 'true' } : name === 'edit' ? { [`${RBAC}/aggregate-to-admin`]: 'true' } : {}) },
      annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
      managedFields: managed([{ manager: 'kube-apiserver', apiVersion: `${RBAC}/v1`, time: t, fields: { aggregationRule: { clusterRoleSelectors: [] }, metadata: { annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 1 }, labels: { 'kubernetes.io/bootstrapping': 1 } } } }]),
    },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`${RBAC}/aggregate-to-${name}`]: 'true' } }] },
    rules: baseRules,
  };
  o = sim.cluster.add({ res: `${RBAC}/clusterroles`, name, uid, body, createdAt: t });
  o.x.builtin = true;
  return o;
}

function roleCreateScenario(cluster: boolean): Scenario {
  const res = cluster ? `${RBAC}/clusterroles` : `${RBAC}/roles`;
  return {
    name: cluster ? 'clusterrole-create' : 'role-create',
    summary: cluster ? 'kubectl apply ClusterRole (some aggregated into view/edit: the aggregation controller rewrites those)' : 'kubectl create role',
    trigger: cluster ? `create ${RBAC}/clusterroles (cluster)` : `create ${RBAC}/roles`, weight: cluster ? 0.8 : 1.2, admin: true,
    run(sim, user, t0) {
      const a = sim.action(user, t0, { verb: 'create', res });
      const ns = cluster ? undefined : pickNamespace(a);
      const rules = sim.rng.pick(RULESETS);
      const base = cluster ? sim.rng.pick(['acme:metrics-reader', 'acme:crd-viewer', 'acme:deployer', 'acme:log-reader']) : sim.rng.pick(['pod-reader', 'deployer', 'secret-reader', 'debugger', 'job-runner']);
      const name = uniqueName(sim, res, ns, base);
      const aggregate = cluster && sim.rng.chance(0.5) ? sim.rng.pick(['view', 'edit'] as const) : undefined;
      let t = a.discovery(t0);
      const apply = cluster;
      if (apply) t = a.think(a.call({ at: t, verb: 'get', res, name, code: 404 }));
      const req: Body = { kind: cluster ? 'ClusterRole' : 'Role', apiVersion: `${RBAC}/v1`, metadata: { name, creationTimestamp: null, ...(aggregate ? { labels: { [`${RBAC}/aggregate-to-${aggregate}`]: 'true' } } : {}) }, rules };
      if (apply) req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
      const role = createObject(a, { at: t, res, ns, req, manager: kubectlManager(apply ? 'apply' : 'create'), query: kubectlQuery(apply ? 'apply' : 'create'), trigger: true });
      if (aggregate) {
        // the clusterrole-aggregation controller folds the rules into view (and edit/admin above it)
        const ctl = sim.sys.ctrl['clusterrole-aggregation-controller'];
        let tt = role.createdAt + Math.round(sim.rng.around(8 * MS));
        const chain = aggregate === 'view' ? ['view', 'edit', 'admin'] as const : ['edit', 'admin'] as const;
        for (const target of chain) {
          const agg = aggregatedRole(sim, target);
          tt = updateObject(a, { actor: ctl, at: tt, obj: agg, manager: 'clusterrole-aggregation-controller', conflictP: 0.1, mutate: (b) => { b.rules = [...b.rules, ...rules]; } }) + Math.round(sim.rng.around(4 * MS));
        }
      }
      return a;
    },
  };
}

function bindingCreateScenario(cluster: boolean): Scenario {
  const res = cluster ? `${RBAC}/clusterrolebindings` : `${RBAC}/rolebindings`;
  return {
    name: cluster ? 'clusterrolebinding-create' : 'rolebinding-create',
    summary: cluster ? 'kubectl create clusterrolebinding' : 'kubectl create rolebinding (to a Role or ClusterRole)',
    trigger: cluster ? `create ${RBAC}/clusterrolebindings (cluster)` : `create ${RBAC}/rolebindings`, weight: cluster ? 0.6 : 1.2, admin: true,
    run(sim, user, t0) {
      const a = sim.action(user, t0, { verb: 'create', res });
      const ns = cluster ? undefined : pickNamespace(a);
      const roles = ns ? sim.cluster.list(`${RBAC}/roles`, ns) : [];
      const roleRef = roles.length && sim.rng.chance(0.6)
        ? { apiGroup: RBAC, kind: 'Role', name: sim.rng.pick(roles).name }
        : { apiGroup: RBAC, kind: 'ClusterRole', name: sim.rng.pick(cluster ? ['cluster-admin', 'view', 'acme:metrics-reader', 'system:aggregate-to-view'] : ['view', 'edit', 'admin']) };
      const subject = subjectFor(sim, ns);
      const name = uniqueName(sim, res, ns, `${roleRef.name.replace(/[:]/g, '-')}-${String(subject.name).split(/[@:]/).filter(Boolean).pop()!.replace(/[^a-z0-9-]/g, '')}`);
      const req: Body = { kind: cluster ? 'ClusterRoleBinding' : 'RoleBinding', apiVersion: `${RBAC}/v1`, metadata: { name, creationTimestamp: null }, roleRef, subjects: [subject] };
      createObject(a, { at: a.discovery(t0), res, ns, req, manager: 'kubectl-create', query: kubectlQuery('create'), trigger: true });
      return a;
    },
  };
}

export const rolePatch: Scenario = {
  name: 'role-patch', summary: 'kubectl edit role: rules changed (PATCH)',
  trigger: `patch-update ${RBAC}/roles`, weight: 0.6, admin: true, fallback: 'role-create',
  run(sim, user, t0) {
    const roles = idle(sim, `${RBAC}/roles`, t0);
    if (!roles.length) return undefined;
    const role = sim.rng.pick(roles);
    const a = sim.action(user, t0, { verb: 'patch', res: `${RBAC}/roles` });
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: `${RBAC}/roles`, ns: role.ns, name: role.name }), 20 * MS);
    const extra = { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: [sim.rng.pick(['configmaps', 'events', 'secrets', 'services'])] };
    const rules = [...role.body.rules, extra];
    updateObject(a, { at: t, obj: role, verb: 'patch', patch: { rules }, trigger: true, manager: 'kubectl-edit', query: kubectlQuery('edit'), mutate: (b) => { b.rules = rules; } });
    return a;
  },
};

export const rbacDelete: Scenario = {
  name: 'rolebinding-delete', summary: 'kubectl delete rolebinding',
  trigger: `delete ${RBAC}/rolebindings`, weight: 0.5, admin: true, fallback: 'rolebinding-create',
  run(sim, user, t0) {
    const rbs = idle(sim, `${RBAC}/rolebindings`, t0, (r) => !r.x.helm);
    if (!rbs.length) return undefined;
    const rb = sim.rng.pick(rbs);
    const a = sim.action(user, t0, { verb: 'delete', res: `${RBAC}/rolebindings` });
    deleteObject(a, { at: a.discovery(t0), obj: rb, trigger: true });
    return a;
  },
};

export const RBAC_SCENARIOS: Scenario[] = [roleCreateScenario(false), bindingCreateScenario(false), roleCreateScenario(true), bindingCreateScenario(true), rolePatch, rbacDelete];
