/**
 * Failed and forbidden actions. Each is a context of its own (usually one or two requests):
 * a forbidden read or change by a developer or an anonymous client (403), a create of
 * something that exists (409 AlreadyExists), a get or delete of something gone (404), an
 * invalid manifest (422), a stale update (409 Conflict).
 */
import type { Body } from '../objects.ts';
import { resourceInfo } from '../resources.ts';
import type { Act, TriggerSpec } from '../sim.ts';
import { MS } from '../time.ts';
import { idle, kubectlQuery, pickNamespace } from './common.ts';
import { deploymentBodies } from './deployments.ts';
import type { Scenario } from './types.ts';

interface Attempt { verb: TriggerSpec['verb']; res: string; sub?: string; ns?: string; name?: string; list?: boolean; query?: string }

export const forbiddenRequest: Scenario = {
  name: 'forbidden', summary: 'a request RBAC refuses (403): developers reading kube-system secrets, exec into system pods, node or RBAC changes; anonymous probes',
  trigger: '<the refused request>', weight: 1.5,
  run(sim, user, t0) {
    const rng = sim.rng;
    const anonymous = rng.chance(0.15);
    const devs = sim.users.filter((u) => !u.admin);
    const who = anonymous ? { ...sim.sys.anonymous(`198.51.100.${rng.int(2, 250)}`), userAgent: rng.pick(['curl/8.5.0', 'python-requests/2.31.0', 'Go-http-client/1.1']) } : devs.length ? rng.pick(devs) : user;
    const sysPod = sim.cluster.list('pods', 'kube-system')[0];
    const attempt: Attempt = anonymous
      ? rng.pick<Attempt>([{ verb: 'list', res: 'pods', ns: 'default', list: true }, { verb: 'list', res: 'secrets', list: true }, { verb: 'get', res: 'namespaces', name: 'kube-system' }, { verb: 'list', res: 'nodes', list: true }])
      : rng.pick<Attempt>([
        { verb: 'list', res: 'secrets', ns: 'kube-system', list: true, query: 'limit=500' },
        { verb: 'get', res: 'secrets', ns: 'kube-system', name: rng.pick(['bootstrap-token-abcdef', 'kubeadm-certs', 'sh.helm.release.v1.cilium.v3']) },
        { verb: 'create', res: 'pods', sub: 'exec', ns: 'kube-system', name: sysPod?.name ?? 'coredns-5d78c9869d-2xwzk', query: 'command=sh&container=coredns&stdin=true&stdout=true&tty=true' },
        { verb: 'delete', res: 'nodes', name: rng.pick(sim.cluster.nodes).name },
        { verb: 'create', res: 'rbac.authorization.k8s.io/clusterrolebindings', query: kubectlQuery('create') },
        { verb: 'patch', res: 'nodes', name: rng.pick(sim.cluster.nodes).name, query: 'fieldManager=kubectl-cordon' },
        { verb: 'list', res: 'certificates.k8s.io/certificatesigningrequests', list: true, query: 'limit=500' },
        { verb: 'delete', res: 'namespaces', name: rng.pick(['kube-system', 'shop', 'payments']) },
      ]);
    const a = sim.action(who, t0, { verb: attempt.verb, res: attempt.res, sub: attempt.sub, list: attempt.list });
    const t = anonymous ? t0 : a.discovery(t0, 0.3);
    a.call({ trigger: true, at: t, verb: attempt.verb, res: attempt.res, ns: attempt.ns, name: attempt.name, sub: attempt.sub, query: attempt.query, code: 403 });
    // a frustrated retry a few seconds later is the same action
    if (!anonymous && rng.chance(0.25)) a.call({ at: t + Math.round(rng.around(4e6)), verb: attempt.verb, res: attempt.res, ns: attempt.ns, name: attempt.name, sub: attempt.sub, query: attempt.query, code: 403 });
    return a;
  },
};

function call404(a: Act, t: number, verb: 'get' | 'delete', res: string, ns: string | undefined, name: string, trigger = true): number {
  return a.call({ trigger, at: t, verb, res, ns, name, code: 404, ...(verb === 'delete' ? { req: { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/__internal', propagationPolicy: 'Background' } } : {}) });
}

export const failedRequest: Scenario = {
  name: 'failed', summary: 'a request that fails: 409 AlreadyExists on create, 404 on get/delete of a missing object, 422 invalid manifest, 409 stale update',
  trigger: '<the failing request>', weight: 2,
  run(sim, user, t0) {
    const rng = sim.rng;
    const kind = rng.weighted([['exists', 3], ['notfound-get', 3], ['notfound-delete', 2], ['invalid', 2], ['conflict', 1]] as const);
    if (kind === 'exists') {
      const deps = idle(sim, 'apps/deployments', t0);
      if (!deps.length) return undefined;
      const d = rng.pick(deps);
      const a = sim.action(user, t0, { verb: 'create', res: 'apps/deployments' });
      const { req } = deploymentBodies({ ns: d.ns!, name: d.name, app: d.app ?? d.name, replicas: 1, image: d.body.spec.template.spec.containers[0].image, uid: '', rv: '', created: t0, manager: 'kubectl-create' });
      delete req.metadata.namespace;
      a.call({ trigger: true, at: a.discovery(t0), verb: 'create', res: 'apps/deployments', ns: d.ns, query: kubectlQuery('create'), req, code: 409, reason: 'AlreadyExists' });
      return a;
    }
    if (kind === 'notfound-get' || kind === 'notfound-delete') {
      const res = rng.pick(['pods', 'apps/deployments', 'services', 'configmaps', 'secrets', 'batch/jobs']);
      const ns = pickNamespace(sim);
      const name = rng.pick(['web-0', 'api', 'frontend-old', 'redis-master', 'config-v2', 'db-backup-manual', 'test', 'nginx-7854ff8877-abcde']);
      if (sim.cluster.exists(res, ns, name)) return undefined;
      const verb = kind === 'notfound-get' ? 'get' : 'delete';
      const a = sim.action(user, t0, { verb, res });
      call404(a, a.discovery(t0), verb, res, resourceInfo(res).namespaced ? ns : undefined, name);
      return a;
    }
    if (kind === 'invalid') {
      // kubectl apply of a Deployment whose selector does not match its template: GET 404, POST 422
      const a = sim.action(user, t0, { verb: 'create', res: 'apps/deployments' });
      const ns = pickNamespace(a);
      const name = rng.pick(['web', 'api', 'worker']) + '-v2';
      let t = a.discovery(t0);
      t = a.think(a.call({ at: t, verb: 'get', res: 'apps/deployments', ns, name, code: 404 }));
      const { req } = deploymentBodies({ ns, name, app: name, replicas: 2, image: 'nginx:1.25.4', uid: '', rv: '', created: t0, manager: 'kubectl-client-side-apply', apply: true });
      req.spec.template.metadata.labels = { app: `${name}-typo` };
      a.call({ trigger: true, at: t, verb: 'create', res: 'apps/deployments', ns, query: kubectlQuery('apply'), req, code: 422, message: `Deployment.apps "${name}" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"${name}-typo"}: \`selector\` does not match template \`labels\`` });
      return a;
    }
    // kubectl replace with a stale resourceVersion
    const cms = idle(sim, 'configmaps', t0, (c) => c.name !== 'kube-root-ca.crt');
    if (!cms.length) return undefined;
    const cm = rng.pick(cms);
    const a = sim.action(user, t0, { verb: 'update', res: 'configmaps' });
    const body: Body = JSON.parse(JSON.stringify(cm.body));
    body.metadata.resourceVersion = String(Number(body.metadata.resourceVersion) - rng.int(5, 500));
    delete body.metadata.managedFields;
    a.call({ trigger: true, at: a.discovery(t0), verb: 'update', res: 'configmaps', ns: cm.ns, name: cm.name, query: 'fieldManager=kubectl-replace&fieldValidation=Strict', req: body, code: 409, reason: 'Conflict' });
    return a;
  },
};

/** kubectl get / describe: reads a user makes between changes. */
export const readRequest: Scenario = {
  name: 'read', summary: 'kubectl get (list) and describe (get + events), sometimes impersonating (--as)',
  trigger: 'get-list-collection <resource> / get-list <resource>', weight: 4,
  run(sim, user, t0) {
    const rng = sim.rng;
    const ns = pickNamespace(sim);
    const describe = rng.chance(0.35);
    if (describe) {
      const pods = idle(sim, 'pods', t0, (p) => p.ns === ns);
      if (!pods.length) return undefined;
      const p = rng.pick(pods);
      const a = sim.action(user, t0, { verb: 'get', res: 'pods' });
      let t = a.discovery(t0);
      t = a.think(a.call({ trigger: true, at: t, verb: 'get', res: 'pods', ns, name: p.name }), 5 * MS);
      a.call({ at: t, verb: 'list', res: 'events', ns, query: `fieldSelector=involvedObject.name%3D${p.name}%2CinvolvedObject.namespace%3D${ns}%2CinvolvedObject.uid%3D${p.uid}&limit=500` });
      return a;
    }
    const res = rng.weighted([['pods', 5], ['apps/deployments', 3], ['services', 2], ['events', 2], ['nodes', 1], ['namespaces', 1], ['configmaps', 1], ['apps/replicasets', 1], ['persistentvolumeclaims', 0.5]] as const);
    const r = resourceInfo(res);
    const a = sim.action(user, t0, { verb: 'list', res, list: true });
    const impersonate = user.admin && rng.chance(0.08) ? { username: `system:serviceaccount:${ns}:default`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] } : undefined;
    a.call({ trigger: true, at: a.discovery(t0), verb: 'list', res, ns: r.namespaced ? ns : undefined, query: 'limit=500', impersonate, ...(impersonate && res === 'nodes' ? { code: 403 } : {}) });
    return a;
  },
};

export const FAILURE_SCENARIOS: Scenario[] = [forbiddenRequest, failedRequest, readRequest];
