#!/usr/bin/env node
// Compiles src/ to JavaScript in dist/ (tsc -p tsconfig.build.json; relative `.ts` imports are
// rewritten to `.js`) and copies the non-TypeScript files of src/ (health-worker.cjs...) beside
// the compiled modules. dist/ mirrors src/, so every `new URL('../../schema/...', import.meta.url)`
// finds the same asset from dist/ as from src/.
//   node scripts/build.mjs           build when dist/ is missing or older than a source
//   node scripts/build.mjs --force   always build
//   node scripts/build.mjs --check   exit 1 when dist/ is stale (builds nothing)
// Dependencies: node and the typescript dev dependency only.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');
export const DIST = path.join(ROOT, 'dist');
const STAMP = path.join(DIST, '.build-stamp');
/** files whose change means a rebuild, besides src/ */
const INPUTS = ['tsconfig.json', 'tsconfig.build.json'];
/** held while one process builds (mkdir is atomic); others wait for it */
const LOCK = path.join(ROOT, '.dist-build.lock');

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out); else out.push(p);
  }
  return out;
}

/** the newest source modification time, and the source file list */
function sources() {
  const files = walk(SRC);
  let newest = 0;
  for (const f of [...files, ...INPUTS.map((f) => path.join(ROOT, f))]) {
    if (existsSync(f)) newest = Math.max(newest, statSync(f).mtimeMs);
  }
  return { files, newest };
}

/** why dist/ needs a build, or undefined when it is up to date */
export function staleReason() {
  if (!existsSync(STAMP)) return 'dist/ has not been built';
  const { files, newest } = sources();
  const stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
  if (newest > stamp.builtFrom) return 'a source is newer than dist/';
  const count = files.length;
  if (count !== stamp.files) return 'source files were added or removed';
  return undefined;
}

/** Modules that name a `.ts` file at run time (e.g. `new Worker(new URL('./x.ts', ...))`): tsc
 * rewrites import specifiers only, so such a reference would fail in the compiled package. */
function leftoverTsReferences(dir) {
  const bad = [];
  for (const f of walk(dir)) {
    if (!f.endsWith('.js')) continue;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/new URL\(\s*['"`]([^'"`]+\.ts)['"`]/g)) bad.push(`${path.relative(ROOT, f)}: ${m[1]}`);
  }
  return bad;
}

/**
 * Compiles into a fresh directory and swaps it in, so a process running from dist/ meanwhile
 * never sees a half-written tree.
 */
export function build({ quiet = false } = {}) {
  const { files, newest } = sources();
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) throw new Error('kontext: building dist/ needs the typescript dev dependency (npm ci)');
  const next = `${DIST}.next-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  if (!quiet) process.stderr.write('kontext: compiling src/ to dist/ (tsc -p tsconfig.build.json)...\n');
  try {
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', next], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('kontext: tsc -p tsconfig.build.json failed');
    for (const f of files) {
      if (f.endsWith('.ts')) continue;
      const to = path.join(next, path.relative(SRC, f));
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(f, to);
    }
    const bad = leftoverTsReferences(next);
    if (bad.length) throw new Error(`kontext: compiled modules still name TypeScript files at run time:\n  ${bad.join('\n  ').replaceAll(path.basename(next), 'dist')}`);
    writeFileSync(path.join(next, '.build-stamp'), JSON.stringify({ builtFrom: newest, files: files.length }) + '\n');
    const old = `${DIST}.old-${process.pid}`;
    if (existsSync(DIST)) renameSync(DIST, old);
    renameSync(next, DIST);
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(next, { recursive: true, force: true });
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** builds when stale; returns whether it built */
export function ensureBuilt(opts = {}) {
  if (!staleReason()) return false;
  // one builder at a time; a lock older than 10 minutes is left from a killed build
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try { mkdirSync(LOCK); break; } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs > 10 * 60_000) { rmSync(LOCK, { recursive: true, force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`kontext: another build holds ${LOCK}`);
      sleep(200);
    }
  }
  try {
    const why = staleReason();
    if (!why) return false;
    if (!opts.quiet) process.stderr.write(`kontext: ${why}\n`);
    build(opts);
    return true;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = process.argv.slice(2);
    if (args.includes('--check')) {
      const why = staleReason();
      process.stdout.write(why ? `stale: ${why}\n` : 'dist/ is up to date\n');
      process.exit(why ? 1 : 0);
    }
    if (args.includes('--force')) build(); else if (!ensureBuilt()) process.stderr.write('kontext: dist/ is up to date\n');
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
