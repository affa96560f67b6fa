import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BINARIES, buildModules, compiledPackages, ldflags, VERSIONS } from '../src/record/build.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function kontext(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(root, 'bin/kontext.js'), ...args], { cwd: root, env: { ...process.env, CI: '1' } });
    let out = ''; let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

/** A cache folder whose "binaries" are scripts printing a version. */
function fakeCache(dir: string, versionOf: (b: string) => string, skip: string[] = []): void {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const b of BINARIES) {
    if (skip.includes(b)) continue;
    writeFileSync(path.join(bin, b), `#!/bin/sh\necho "${b} ${versionOf(b)}"\n`);
    chmodSync(path.join(bin, b), 0o755);
  }
  writeFileSync(path.join(bin, 'build.json'), JSON.stringify({ versions: VERSIONS, builtAt: 'x', go: 'go', binaries: {} }));
}
const good = (b: string) => (b === 'etcd' ? VERSIONS.etcd.slice(1) : b === 'helm' ? VERSIONS.helm : b === 'kwok' ? VERSIONS.kwok : VERSIONS.kubernetes);

test('record --check: no cache is a clear error, exit 1', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-rec-'));
  try {
    const r = await kontext(['record', '--check', '--cache', dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no cached build in .*--build-only/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('record --check: a complete cache passes; a missing binary or wrong version fails', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-rec-'));
  try {
    fakeCache(dir, good);
    const ok = await kontext(['record', '--check', '--cache', dir]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /is complete/);
    rmSync(path.join(dir, 'bin', 'kwok'));
    const missing = await kontext(['record', '--check', '--cache', dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /missing .*kwok/);
    fakeCache(dir, (b) => (b === 'kubectl' ? 'v0.0.0-master' : good(b)));
    const wrong = await kontext(['record', '--check', '--cache', dir]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /kubectl: version output does not name/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('build modules: Kubernetes pins every staging module to the matching v0.x.y and sets release versions', () => {
  const k8s = buildModules().find((m) => m.name === 'kubernetes')!;
  const mod = k8s.files['go.mod']!;
  assert.match(mod, new RegExp(`require k8s.io/kubernetes ${VERSIONS.kubernetes.replace(/\./g, '\\.')}`));
  assert.match(mod, /k8s\.io\/client-go => k8s\.io\/client-go v0\.37\.2/);
  assert.match(mod, /k8s\.io\/apimachinery => k8s\.io\/apimachinery v0\.37\.2/);
  assert.match(ldflags(k8s), /k8s\.io\/component-base\/version\.gitVersion=v1\.37\.2/);
  assert.match(ldflags(k8s), /k8s\.io\/client-go\/pkg\/version\.gitMinor=37/);
  const all = buildModules().flatMap((m) => m.binaries).sort();
  assert.deepEqual(all, [...BINARIES].sort());
});

test('build progress: a go build -v names each compiled package on its own line; downloads and errors are not packages', () => {
  const out = [
    'go: downloading k8s.io/api v0.37.2', 'internal/goarch', 'runtime/internal/sys', 'k8s.io/apimachinery/pkg/util/sets',
    'sigs.k8s.io/structured-merge-diff/v6/value', 'gopkg.in/yaml.v3', '# k8s.io/kubernetes/cmd/kubectl', 'cmd/kubectl/main.go:3:2: undefined: x', '',
  ].join('\n');
  assert.equal(compiledPackages(out), 5);
  assert.equal(compiledPackages(''), 0);
});
