#!/usr/bin/env node
// The plain manifests in plugin/kubernetes are rendered from the Helm chart (plugin/helm/kontext):
//   node scripts/helm-manifests.mjs            copy the Fluent Bit YAML configs into the chart, render, write
//   node scripts/helm-manifests.mjs --check    exit 1 when a committed file differs from a fresh render
// Values: plugin/kubernetes/values.yaml. kontext.yaml holds the kontext namespace (Pod Security
// "restricted" enforced) and everything of kontext; fluent-bit-audit.yaml the Fluent Bit namespace
// (host paths need "privileged") and the DaemonSet, its ConfigMap and metrics Service.
// Needs a helm binary: $HELM, helm on PATH, .kontext/record/bin/helm or /work/cache/record/bin/helm.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHART = path.join(ROOT, 'plugin', 'helm', 'kontext');
const KUBE = path.join(ROOT, 'plugin', 'kubernetes');
/** Fluent Bit configurations the chart's ConfigMap carries (copies of plugin/fluent-bit) */
export const CHART_FILES = ['fluent-bit.yaml', 'fluent-bit-webhook.yaml'];
export const RELEASE = { name: 'kontext', namespace: 'kontext' };

export function findHelm() {
  const candidates = [process.env.HELM, path.join(ROOT, '.kontext', 'record', 'bin', 'helm'), '/work/cache/record/bin/helm'].filter(Boolean);
  for (const c of candidates) if (existsSync(c)) return c;
  const onPath = spawnSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' });
  return onPath.status === 0 ? onPath.stdout.trim() : undefined;
}

export function helm(bin, args) {
  const r = spawnSync(bin, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const namespace = (name, level, why) => `# ${why}
apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels:
    pod-security.kubernetes.io/enforce: ${level}
    pod-security.kubernetes.io/warn: ${level}
`;

/** the two plain manifest files, as rendered from the chart */
export function render(bin) {
  const values = path.join(KUBE, 'values.yaml');
  const out = helm(bin, ['template', RELEASE.name, CHART, '--namespace', RELEASE.namespace, '-f', values]);
  const docs = out.split(/^---\s*$/m).map((d) => d.trim()).filter((d) => d && !/^(#.*\n?)*$/.test(d));
  const fbNs = parseAllDocuments(readFileSync(values, 'utf8'))[0].toJS().fluentBit.namespace;
  const isFluentBit = (d) => /app\.kubernetes\.io\/name: kontext-fluent-bit/.test(d);
  const header = (what) => `# ${what}\n# Generated from plugin/helm/kontext with plugin/kubernetes/values.yaml by\n# \`npm run manifests\` (scripts/helm-manifests.mjs); edit the chart, not this file.\n`;
  const join = (parts) => parts.join('\n---\n') + '\n';
  return {
    'kontext.yaml': header('kontext: namespace, ServiceAccount, Deployment, Service. Create the Secret first (README.md).') + join([
      namespace(RELEASE.namespace, 'restricted', 'kontext runs under Pod Security "restricted"'),
      ...docs.filter((d) => !isFluentBit(d)),
    ]),
    'fluent-bit-audit.yaml': header('Fluent Bit on the control-plane nodes, forwarding the kube-apiserver audit log to kontext.') + join([
      namespace(fbNs, 'privileged', 'Fluent Bit reads the audit log from a host path, which only "privileged" allows'),
      ...docs.filter(isFluentBit),
    ]),
  };
}

/** the chart's copies of the Fluent Bit configurations: [file, expected text][] */
export function chartFiles() {
  return CHART_FILES.map((f) => [path.join(CHART, 'files', f), readFileSync(path.join(ROOT, 'plugin', 'fluent-bit', f), 'utf8')]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const bin = findHelm();
  if (!bin) { process.stderr.write('helm-manifests: no helm binary (set HELM=/path/to/helm)\n'); process.exit(1); }
  const stale = [];
  for (const [file, text] of chartFiles()) {
    if (check) { if (!existsSync(file) || readFileSync(file, 'utf8') !== text) stale.push(path.relative(ROOT, file)); } else writeFileSync(file, text);
  }
  try {
    for (const [name, text] of Object.entries(render(bin))) {
      const file = path.join(KUBE, name);
      if (check) { if (!existsSync(file) || readFileSync(file, 'utf8') !== text) stale.push(path.relative(ROOT, file)); } else writeFileSync(file, text);
    }
  } catch (e) { process.stderr.write(`${e.message}\n`); process.exit(1); }
  if (stale.length) { process.stderr.write(`out of date (run npm run manifests): ${stale.join(', ')}\n`); process.exit(1); }
  if (!check) process.stderr.write('plugin/kubernetes/kontext.yaml, plugin/kubernetes/fluent-bit-audit.yaml written\n');
}
