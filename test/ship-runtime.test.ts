/**
 * The compiled runtime package: assembled from dist/ by scripts/pack.mjs as the image holds it
 * (no TypeScript loader, no simulator, no lab), it starts as an unprivileged user whose working
 * directory and TMPDIR are not writable (a read-only root filesystem), answers /healthz and
 * /readyz, and stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { esUrl } from './helpers/es.ts';
import { freePort } from './helpers/kontext-proc.ts';
import { ROOT } from './helpers/hostile.ts';
import { RUNTIME_MEMORY_ENV } from '../src/pipeline/runtime-memory.ts';

const NOBODY = 65534;
/** the Dockerfile's deps stage: the runtime package's production dependencies at the lockfile's versions */
const RUNTIME_INSTALL = ['install', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund'];
let work: string;
let pkg: string;

function files(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, base) : [path.relative(base, p)];
  });
}

before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kontext-ship-'));
  chmodSync(work, 0o755);
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/pack.mjs'), '--out', work, 'kontext'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  pkg = path.join(work, 'kontext');
  // the runtime's own dependencies, installed as the Dockerfile's deps stage does (RUNTIME_INSTALL)
  copyFileSync(path.join(ROOT, 'package-lock.json'), path.join(pkg, 'package-lock.json'));
  const npm = spawnSync('npm', RUNTIME_INSTALL, { cwd: pkg, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
  assert.equal(npm.status, 0, `npm ${RUNTIME_INSTALL.join(' ')}:\n${npm.stderr}`);
});
after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

describe('Dockerfile', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  const stages: { from: string; name?: string; lines: string[] }[] = [];
  const args = new Map<string, string>();
  for (const l of lines) {
    const arg = /^ARG (\w+)=(\S+)/.exec(l);
    if (arg && !stages.length) { args.set(arg[1]!, arg[2]!); continue; }
    const from = /^FROM (\S+)(?: AS (\S+))?/i.exec(l);
    if (from) stages.push({ from: from[1]!.replace(/\$\{(\w+)\}/, (_, k: string) => args.get(k) ?? ''), name: from[2], lines: [] });
    else stages.at(-1)?.lines.push(l);
  }
  const runtime = stages.at(-1)!;

  test('multi-stage on Node 24; the runtime stage holds the runtime package and production dependencies only', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages) assert.match(s.from, /^node:24[.-]/, `${s.name ?? 'final'} stage on Node 24`);
    const copies = runtime.lines.filter((l) => /^COPY /.test(l));
    assert.ok(copies.length > 0 && copies.every((l) => /--from=/.test(l)), 'the runtime stage copies only from earlier stages');
    assert.ok(copies.some((l) => /\/out\/kontext /.test(l)), 'the runtime package');
    assert.ok(!runtime.lines.some((l) => /^RUN /.test(l) && /\bnpm (ci|install)\b/.test(l) && !/--omit=dev/.test(l)), 'no dev dependencies');
    const build = stages.find((s) => s.lines.some((l) => /scripts\/pack\.mjs --out \/out kontext/.test(l)));
    assert.ok(build, 'a stage assembles the runtime package with scripts/pack.mjs');
    const deps = stages.find((s) => s.lines.some((l) => /^RUN /.test(l) && l.includes(`npm ${RUNTIME_INSTALL.join(' ')}`)));
    assert.ok(deps, 'a stage installs production dependencies as the runtime test does');
    assert.ok(deps.lines.some((l) => /^COPY --from=\S+ \/out\/kontext\/package\.json /.test(l)), "of the runtime package's manifest (no TensorFlow.js)");
    assert.ok(runtime.lines.some((l) => new RegExp(`^COPY --from=${deps.name} `).test(l)), 'the runtime stage takes node_modules from it');
    for (const l of stages.flatMap((s) => s.lines).filter((x) => /^COPY (?!--from)/.test(x))) {
      const srcs = l.replace(/^COPY\s+/, '').split(/\s+/).slice(0, -1);
      for (const src of srcs) assert.ok(existsSync(path.join(ROOT, src)), `COPY ${src} exists`);
    }
  });

  test('the runtime stage sets the memory budget the benchmarks measure (src/pipeline/runtime-memory.ts)', () => {
    const env = new Map<string, string>();
    for (const l of runtime.lines) {
      const m = /^ENV (.+)$/.exec(l);
      if (m) for (const [, k, v] of m[1]!.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env.set(k!, v!.replace(/^"|"$/g, ''));
    }
    for (const [k, v] of Object.entries(RUNTIME_MEMORY_ENV)) assert.equal(env.get(k), v, `ENV ${k}`);
  });

  test('runs as a non-root user, the compiled entry point, the health port probed', () => {
    const user = runtime.lines.find((l) => /^USER /.test(l));
    assert.ok(user && !/^USER (root|0)\b/.test(user), 'a non-root USER');
    assert.match(runtime.lines.find((l) => /^ENTRYPOINT /.test(l)) ?? '', /bin\/kontext\.js/);
    assert.ok(!text.includes('tsx'), 'no TypeScript loader');
    assert.match(runtime.lines.find((l) => /^HEALTHCHECK /.test(l)) ?? '', /healthz/);
    const engines = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).engines.node as string;
    assert.match(engines, /24/);
    assert.doesNotMatch(engines, /(^|[^.\d])20([^.\d]|$)/, 'Node 20 is end of life');
  });
});

describe('runtime package', () => {
  test('holds compiled JavaScript and the runtime only', () => {
    const manifest = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8'));
    assert.equal(manifest.name, 'kontext');
    assert.ok(!('tsx' in manifest.dependencies), 'tsx is not a runtime dependency');
    // the label stage runs its model in plain JavaScript: TensorFlow.js is the lab's
    for (const n of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node']) {
      assert.ok(!(n in manifest.dependencies) && !(n in (manifest.optionalDependencies ?? {})), `${n} is not a runtime dependency`);
    }
    const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.ok(!('tsx' in root.dependencies), 'tsx is a dev dependency of the checkout');
    const dist = files(path.join(pkg, 'dist'));
    assert.ok(dist.includes('cli/commands/serve.js') && dist.includes('http/health-worker.cjs'), 'serve and the health worker are shipped');
    assert.deepEqual(dist.filter((f) => f.endsWith('.ts')), [], 'no TypeScript sources');
    for (const part of ['simulate/', 'sources/simulated/', 'bench/', 'eval/', 'record/', 'label/train.js', 'cli/commands/train.js']) {
      assert.ok(!dist.some((f) => f.startsWith(part)), `${part} is not in the runtime package`);
    }
    assert.ok(!existsSync(path.join(pkg, 'node_modules/@tensorflow')), 'the runtime install holds no TensorFlow.js');
    for (const asset of ['schema/kontext.graphql', 'models/default/model.json', 'ui/dist/index.html']) assert.ok(existsSync(path.join(pkg, asset)), asset);
    for (const f of dist.filter((x) => x.endsWith('.js'))) {
      assert.doesNotMatch(readFileSync(path.join(pkg, 'dist', f), 'utf8'), /from ['"]tsx|['"]\.{1,2}\/[^'"]+\.ts['"]/, `${f} names no TypeScript at run time`);
      assert.doesNotMatch(readFileSync(path.join(pkg, 'dist', f), 'utf8'), /['"]@tensorflow\//, `${f} loads no TensorFlow.js`);
    }
  });

  test('a lab command names the package it ships in', () => {
    const r = spawnSync(process.execPath, [path.join(pkg, 'bin/kontext.js'), 'train', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not in this installation.*kontext-lab/);
  });

  test('starts as an unprivileged user with an unwritable cwd and TMPDIR and answers /healthz', async (t) => {
    const asRoot = process.getuid?.() === 0;
    if (asRoot && spawnSync('sh', ['-c', 'command -v setpriv']).status !== 0) {
      t.skip('running as root without setpriv: cannot drop to an unprivileged user');
      return;
    }
    // owned by root (or by us), mode 0555: nobody can create a file in it
    const readonly = path.join(work, 'readonly');
    mkdirSync(readonly);
    chmodSync(readonly, 0o555);
    const healthPort = await freePort();
    const prefix = `ship-${process.pid}`;
    const argv = [path.join(pkg, 'bin/kontext.js'), 'serve', '--no-auth', '--log-level', 'info', '--http-host', '127.0.0.1', '--http-port', '0',
      '--forward-host', '127.0.0.1', '--forward-port', '0', '--health-port', String(healthPort), '--index-prefix', prefix];
    const [cmd, args] = asRoot
      ? ['setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', process.execPath, ...argv]]
      : [process.execPath, argv];
    const child = spawn(cmd, args, {
      cwd: readonly,
      env: { PATH: process.env.PATH, HOME: readonly, TMPDIR: readonly, ELASTICSEARCH_URL: esUrl(), NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { out += String(d); });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    let gone = false;
    void exited.then(() => { gone = true; });
    try {
      const get = async (p: string) => { try { return (await fetch(`http://127.0.0.1:${healthPort}${p}`)).status; } catch { return 0; } };
      const deadline = Date.now() + 90_000;
      let health = 0;
      let ready = 0;
      while (Date.now() < deadline && !gone && (health !== 200 || ready !== 200)) {
        health = await get('/healthz');
        ready = await get('/readyz');
        if (health !== 200 || ready !== 200) await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(gone, false, `kontext exited during start-up:\n${out.slice(-3000)}`);
      assert.equal(health, 200, `/healthz:\n${out.slice(-3000)}`);
      assert.equal(ready, 200, `/readyz:\n${out.slice(-3000)}`);
      assert.doesNotMatch(out, /EACCES|EROFS/);
    } finally {
      if (!gone) child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `exit after SIGTERM:\n${out.slice(-3000)}`);
  });
});
