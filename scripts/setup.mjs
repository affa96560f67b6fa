#!/usr/bin/env node
// `npm start` / `npm test` set-up step (no dependencies of its own): installs the npm packages
// when node_modules is missing or older than package-lock.json, and checks for Java and Maven,
// which the local Elasticsearch needs when ELASTICSEARCH_URL is unset.
import { existsSync, statSync } from 'node:fs';
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
if (!process.env.ELASTICSEARCH_URL) {
  const missing = ['java', 'mvn'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (missing.length) {
    process.stderr.write(`kontext: ${missing.join(' and ')} not found. A local Elasticsearch needs a JDK 17+ and Maven ` +
      '(Debian: apt-get install openjdk-17-jdk-headless maven), or set ELASTICSEARCH_URL to an existing cluster.\n');
    process.exit(1);
  }
}
