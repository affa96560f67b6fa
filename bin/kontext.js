#!/usr/bin/env node
// Entry point: runs the compiled JavaScript in dist/ (no TypeScript loader at run time).
// In a source checkout (scripts/build.mjs and src/ beside dist/), a missing or stale dist/ is
// rebuilt first; the installed package and the image ship dist/ only.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const builder = new URL('../scripts/build.mjs', import.meta.url);
if (existsSync(new URL('../src/cli/main.ts', import.meta.url)) && existsSync(builder)) {
  const { ensureBuilt } = await import(builder.href);
  try { ensureBuilt(); } catch (e) { process.stderr.write(`${e.message}\n`); process.exit(1); }
}
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || existsSync(new URL('../dist/cli/main.js', import.meta.url))) throw e;
  process.stderr.write('kontext: dist/ is missing; build it with `npm run build`\n');
  process.exit(1);
}
try {
  await main(process.argv.slice(2));
} catch (e) {
  // A part of another package (the runtime package ships neither the simulator nor the lab).
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes(dist)) throw e;
  process.stderr.write(`kontext: \`${process.argv.slice(2).join(' ')}\` needs a part that is not in this installation ` +
    `(${String(e.message).split(dist)[1]?.split(/['"\s]/)[0]}); the simulator ships in kontext-simulator, ` +
    'training, evaluation, benchmarks and recording in kontext-lab\n');
  process.exit(1);
}
