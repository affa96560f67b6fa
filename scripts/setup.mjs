#!/usr/bin/env node
// `npm start` / `npm test` set-up step (no dependencies of its own): installs the npm packages
// when node_modules is missing or older than package-lock.json, builds the web UI when its
// sources changed, compiles src/ to dist/ when a source changed (scripts/build.mjs), and checks
// for Java and Maven,
// which the local Elasticsearch needs when ELASTICSEARCH_URL is unset.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  process.stderr.write('kontext: installing npm packages (npm ci)...\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { process.stderr.write('kontext: npm ci failed\n'); process.exit(r.status ?? 1); }
}
// The web UI (ui/) is built into ui/dist whenever a source is newer than the build.
const uiDir = path.join(root, 'ui');
const uiIndex = path.join(uiDir, 'dist', 'index.html');
const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
  if (e.name === 'dist' || e.name === 'node_modules') return m;
  const p = path.join(dir, e.name);
  return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
}, 0);
if (existsSync(uiDir) && (!existsSync(uiIndex) || statSync(uiIndex).mtimeMs < Math.max(newest(uiDir), statSync(lock).mtimeMs))) {
  process.stderr.write('kontext: building the web UI (vite build ui)...\n');
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', uiDir], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { process.stderr.write('kontext: building the web UI failed\n'); process.exit(r.status ?? 1); }
}
// bin/kontext.js runs the compiled dist/ (it would build on its first start; here it is done once).
{
  const { ensureBuilt } = await import('./build.mjs');
  try { ensureBuilt(); } catch (e) { process.stderr.write(`${e.message}\n`); process.exit(1); }
}
if (!process.env.ELASTICSEARCH_URL) {
  const missing = ['java', 'mvn'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (missing.length) {
    process.stderr.write(`kontext: ${missing.join(' and ')} not found. A local Elasticsearch needs a JDK 17+ and Maven ` +
      '(Debian: apt-get install openjdk-17-jdk-headless maven), or set ELASTICSEARCH_URL to an existing cluster.\n');
    process.exit(1);
  }
}
