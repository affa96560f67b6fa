#!/usr/bin/env node
// Assembles the npm packages described by packages/<name>/package.json from the compiled dist/:
//   node scripts/pack.mjs [--out DIR] [--tarball] [NAME...]     (default: every package, into build/packages)
// A package is cut by the commands it ships: its dist/ holds the modules reachable from
// dist/cli/main.js (static imports only: the command table loads commands lazily) and from
// dist/cli/commands/<command>.js (static and dynamic imports, and `new URL('./file', import.meta.url)`
// files), plus the `modules` it names, less its `exclude` prefixes (optional parts that runtime
// modules load lazily; a static import of one is an error, so the cut stays true); then its `assets` (schema/, models/...), bin/kontext.js, and a
// package.json whose version, engines and dependencies come from the root package.json, less its
// `omitDependencies` (TensorFlow.js: only training needs it, the runtime labels in plain JavaScript).
// --tarball also runs `npm pack` in each assembled directory.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST, ROOT, ensureBuilt } from './build.mjs';

const PACKAGES = path.join(ROOT, 'packages');

/** relative module references of one compiled module: [static, dynamic, url-assets] */
function references(file) {
  const text = readFileSync(file, 'utf8');
  const rel = (s) => s.startsWith('./') || s.startsWith('../');
  const stat = [...text.matchAll(/(?:^|[\s;}])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]/gm)]
    .map((m) => m[1] ?? m[2]).filter(rel);
  const dyn = [...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]).filter(rel);
  const urls = [...text.matchAll(/new URL\(\s*['"](\.\/[^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g)].map((m) => m[1]);
  return { stat, dyn, urls };
}

/** every dist/ file a package with these commands and extra modules needs (paths relative to dist/) */
export function moduleClosure(commands, modules = [], exclude = []) {
  const seen = new Set();
  const todo = [];
  const excluded = (abs) => exclude.some((p) => path.relative(DIST, abs).startsWith(p));
  const add = (abs, shallow = false, from = undefined) => {
    if (excluded(abs)) {
      // an optional part may be loaded lazily (dynamic import), never imported statically
      if (from) throw new Error(`pack: ${path.relative(DIST, from)} imports the excluded ${path.relative(DIST, abs)} statically`);
      return;
    }
    if (!seen.has(abs)) todo.push([abs, shallow]);
  };
  add(path.join(DIST, 'cli', 'main.js'), true);
  for (const c of commands) add(path.join(DIST, 'cli', 'commands', `${c}.js`));
  for (const m of modules) add(path.join(DIST, m));
  while (todo.length) {
    const [file, shallow] = todo.pop();
    if (seen.has(file)) continue;
    if (!existsSync(file)) throw new Error(`pack: ${path.relative(ROOT, file)} is missing (is dist/ built?)`);
    seen.add(file);
    if (!file.endsWith('.js')) continue;
    const { stat, dyn, urls } = references(file);
    const dir = path.dirname(file);
    for (const s of stat) add(path.resolve(dir, s), false, file);
    for (const s of urls) add(path.resolve(dir, s), false, file);
    if (!shallow) for (const s of dyn) add(path.resolve(dir, s));
  }
  // DIST-relative, inside dist/ only (an asset reached by ../../schema is listed as an asset)
  return [...seen].map((f) => path.relative(DIST, f)).filter((f) => !f.startsWith('..')).sort();
}

export function readManifest(name) {
  const file = path.join(PACKAGES, name, 'package.json');
  if (!existsSync(file)) throw new Error(`pack: no package ${name} (packages/${name}/package.json)`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

export function packageNames() {
  return readdirSync(PACKAGES).filter((n) => existsSync(path.join(PACKAGES, n, 'package.json'))).sort();
}

/** `deps` less the names in `omit` (dependencies only the lab needs), undefined if none is left */
function pick(deps, omit) {
  if (!deps) return undefined;
  const kept = Object.fromEntries(Object.entries(deps).filter(([n]) => !omit.includes(n)));
  return Object.keys(kept).length ? kept : undefined;
}

/** assembles one package into out/<name>; returns its directory */
export function assemble(name, out) {
  const manifest = readManifest(name);
  const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const { commands, modules = [], exclude = [], assets = [], omitDependencies: omit = [] } = manifest.kontext;
  const dir = path.join(out, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of moduleClosure(commands, modules, exclude)) {
    mkdirSync(path.dirname(path.join(dir, 'dist', f)), { recursive: true });
    cpSync(path.join(DIST, f), path.join(dir, 'dist', f));
  }
  for (const a of assets) {
    if (!existsSync(path.join(ROOT, a))) throw new Error(`pack: asset ${a} of ${name} is missing${a === 'ui/dist' ? ' (npm run build:ui)' : ''}`);
    cpSync(path.join(ROOT, a), path.join(dir, a), { recursive: true, filter: (src) => !src.endsWith('.map') });
  }
  cpSync(path.join(ROOT, 'bin', 'kontext.js'), path.join(dir, 'bin', 'kontext.js'));
  for (const f of ['README.md', 'LICENSE']) if (existsSync(path.join(ROOT, f))) cpSync(path.join(ROOT, f), path.join(dir, f));
  const { kontext: _cut, ...fields } = manifest;
  const pkg = {
    ...fields,
    version: root.version,
    license: root.license,
    type: 'module',
    engines: root.engines,
    dependencies: pick(root.dependencies, omit),
    optionalDependencies: pick(root.optionalDependencies, omit),
  };
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  return dir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = process.argv.slice(2);
    let out = path.join(ROOT, 'build', 'packages');
    const oi = args.indexOf('--out');
    if (oi >= 0) { out = path.resolve(args[oi + 1] ?? ''); args.splice(oi, 2); }
    const tarball = args.includes('--tarball');
    const names = args.filter((a) => !a.startsWith('--'));
    ensureBuilt();
    for (const name of names.length ? names : packageNames()) {
      const dir = assemble(name, out);
      const { commands, modules, exclude } = readManifest(name).kontext;
      const files = moduleClosure(commands, modules, exclude).length;
      process.stderr.write(`${name}: ${files} dist files -> ${path.relative(process.cwd(), dir) || '.'}\n`);
      if (tarball) {
        const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', '--pack-destination', out], { cwd: dir, stdio: 'inherit' });
        if (r.status !== 0) throw new Error(`pack: npm pack of ${name} failed`);
      }
    }
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
