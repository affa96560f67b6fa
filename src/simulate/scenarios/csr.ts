/** CertificateSigningRequests: a user submits one, an admin approves (the signer issues) or denies it. */
import { createObject, updateObject } from '../kube.ts';
import { pem, type Body } from '../objects.ts';
import { MS, rfc3339Sec } from '../time.ts';
import { idle, kubectlManager, kubectlQuery, lastApplied } from './common.ts';
import type { Scenario } from './types.ts';

const CSR = 'certificates.k8s.io/certificatesigningrequests';

export const csrCreate: Scenario = {
  name: 'csr-create', shrink: 'csr-approve', summary: 'kubectl apply of a CertificateSigningRequest (client certificate for a new user)',
  trigger: `create ${CSR} (cluster)`, weight: 0.8,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: CSR });
    const who = sim.rng.pick(['newhire', 'contractor', 'oncall', 'auditor', 'jenkins']);
    const name = `${who}-${sim.rng.suffix(5)}`;
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: CSR, name, code: 404 }));
    const request = Buffer.from(pem('CERTIFICATE REQUEST', sim.rng.hex(64), 15)).toString('base64');
    const req: Body = { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name, creationTimestamp: null }, spec: { request, signerName: 'kubernetes.io/kube-apiserver-client', expirationSeconds: 86400, usages: ['client auth'] }, status: {} };
    req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
    createObject(a, {
      at: t, res: CSR, req, manager: kubectlManager('apply'), query: kubectlQuery('apply'), trigger: true,
      defaults: (b) => { b.spec = { ...b.spec, username: user.username, groups: user.groups, ...(user.uid ? { uid: user.uid } : {}), ...(user.extra ? { extra: user.extra } : {}) }; },
    });
    return a;
  },
};

function decide(approve: boolean): Scenario {
  return {
    name: approve ? 'csr-approve' : 'csr-deny',
    summary: approve ? 'kubectl certificate approve: approval subresource, then the signer writes the certificate' : 'kubectl certificate deny: approval subresource with a Denied condition',
    trigger: `patch-update ${CSR}/approval (cluster)`, weight: approve ? 0.6 : 0.3, admin: true, fallback: 'csr-create',
    run(sim, user, t0) {
      const pending = idle(sim, CSR, t0, (c) => !c.x.decided);
      if (!pending.length) return undefined;
      const csr = sim.rng.pick(pending);
      csr.x.decided = true;
      const a = sim.action(user, t0, { verb: 'update', res: CSR, sub: 'approval' });
      let t = a.discovery(t0);
      t = a.think(a.call({ at: t, verb: 'get', res: CSR, name: csr.name }));
      const cond = approve
        ? { type: 'Approved', status: 'True', reason: 'KubectlApprove', message: 'This CSR was approved by kubectl certificate approve.', lastUpdateTime: rfc3339Sec(t), lastTransitionTime: rfc3339Sec(t) }
        : { type: 'Denied', status: 'True', reason: 'KubectlDeny', message: 'This CSR was denied by kubectl certificate deny.', lastUpdateTime: rfc3339Sec(t), lastTransitionTime: rfc3339Sec(t) };
      const end = updateObject(a, { at: t, obj: csr, sub: 'approval', trigger: true, manager: 'kubectl', mutate: (b) => { b.status = { conditions: [cond] }; } });
      if (approve) {
        // the kube-apiserver-client signer (csrsigning controller) issues the certificate
        const signer = sim.sys.ctrl['certificate-controller'];
        updateObject(a, {
          actor: signer, at: end + Math.round(sim.rng.around(12 * MS)), obj: csr, sub: 'status', manager: 'kube-controller-manager',
          mutate: (b) => { b.status = { ...b.status, certificate: Buffer.from(pem('CERTIFICATE', sim.rng.hex(64), 18)).toString('base64') }; },
        });
      }
      return a;
    },
  };
}

export const CSR_SCENARIOS: Scenario[] = [csrCreate, decide(true), decide(false)];
