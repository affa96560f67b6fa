/**
 * Credentials for a recording cluster, generated locally with openssl: a CA, the apiserver's
 * serving certificate (loopback SANs), the service-account signing key pair, a static token file
 * with the recording's users, and a kubeconfig per identity.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** An identity with a static token. `groups` are what the token authenticates into. */
export interface TokenUser { name: string; groups: string[]; uid: string }

/** The people and automation of the recording cluster, and the control-plane identities. */
export const USERS: readonly TokenUser[] = [
  { name: 'admin', groups: ['system:masters'], uid: 'u-admin' },
  { name: 'alice', groups: ['platform-admins'], uid: 'u-alice' },
  { name: 'bob', groups: ['platform-admins'], uid: 'u-bob' },
  { name: 'carol', groups: ['team-a-devs'], uid: 'u-carol' },
  { name: 'dave', groups: ['viewers'], uid: 'u-dave' },
  { name: 'ci-deployer', groups: ['ci'], uid: 'u-ci' },
  { name: 'system:kube-controller-manager', groups: [], uid: 'u-kcm' },
  { name: 'system:kube-scheduler', groups: [], uid: 'u-ksched' },
  // kwok standing in for every kubelet under one identity (`--kubelets shared`); with
  // `--kubelets per-node` each node's kwok has its own `system:node:<node>` client certificate
  { name: 'kwok-controller', groups: ['system:masters'], uid: 'u-kwok' },
];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface Pki {
  dir: string;
  ca: string; caKey: string;
  serverCert: string; serverKey: string;
  saKey: string; saPub: string;
  tokenFile: string;
  tokens: Record<string, string>;
}

export function generatePki(dir: string): Pki {
  const p = (f: string) => path.join(dir, f);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=kontext-record-ca'], dir);
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '30', '-extfile', 'server.ext'], dir);
  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  const tokens: Record<string, string> = {};
  const lines: string[] = [];
  for (const u of USERS) {
    const t = randomBytes(24).toString('hex');
    tokens[u.name] = t;
    lines.push(`${t},${u.name},${u.uid}${u.groups.length ? `,"${u.groups.join(',')}"` : ''}`);
  }
  writeFileSync(p('tokens.csv'), lines.join('\n') + '\n', { mode: 0o600 });
  return { dir, ca: p('ca.crt'), caKey: p('ca.key'), serverCert: p('server.crt'), serverKey: p('server.key'), saKey: p('sa.key'), saPub: p('sa.pub'), tokenFile: p('tokens.csv'), tokens };
}

/** A kubeconfig for one identity, authenticating with a bearer token. */
export function kubeconfig(server: string, caFile: string, user: string, token: string): string {
  return [
    'apiVersion: v1', 'kind: Config',
    'clusters:', '- name: record', '  cluster:', `    server: ${server}`, `    certificate-authority: ${caFile}`,
    'users:', `- name: ${JSON.stringify(user)}`, '  user:', `    token: ${token}`,
    'contexts:', '- name: record', '  context:', '    cluster: record', `    user: ${JSON.stringify(user)}`, '    namespace: default',
    'current-context: record', '',
  ].join('\n');
}

/** A kubelet's client certificate, as kubeadm issues it: CN `system:node:<node>`, O `system:nodes`. */
export function nodeClientCert(pki: Pki, node: string): { cert: string; key: string } {
  const base = `node-${node}`;
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/O=system:nodes/CN=system:node:${node}`], pki.dir);
  writeFileSync(path.join(pki.dir, `${base}.ext`), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${base}.crt`, '-days', '30', '-extfile', `${base}.ext`], pki.dir);
  return { cert: path.join(pki.dir, `${base}.crt`), key: path.join(pki.dir, `${base}.key`) };
}

/** A kubeconfig for one identity, authenticating with a client certificate. */
export function kubeconfigWithCert(server: string, caFile: string, user: string, cert: string, key: string): string {
  return kubeconfig(server, caFile, user, '').replace(/    token: .*\n/, `    client-certificate: ${cert}\n    client-key: ${key}\n`);
}
