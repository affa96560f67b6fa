/**
 * Longer hostile-input run against a `kontext serve` child (the CI test runs the same shapes,
 * smaller): every bomb shape at full size, repeated, with a canary peer sending valid events
 * throughout. Prints peak RSS per shape, the rejection reason, and canary ack latencies.
 *
 *   ELASTICSEARCH_URL=http://127.0.0.1:9200 node --import tsx scripts/fuzz-forward.ts [--rounds 3] [--scale 1]
 *     [--bin path/to/bin/kontext.js] [--heap-mb 2048] [--only <shape name part>] [--out bench-results/fuzz-forward.md]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BOMBS, Canary, rssOf, startServe, throwBomb } from '../test/helpers/hostile.ts';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '3' }, scale: { type: 'string', default: '1' },
  bin: { type: 'string' }, 'heap-mb': { type: 'string', default: '2048' }, only: { type: 'string' }, out: { type: 'string' },
} });
const esUrl = process.env.ELASTICSEARCH_URL;
if (!esUrl) { process.stderr.write('set ELASTICSEARCH_URL\n'); process.exit(2); }
const mb = (b: number) => `${(b / (1 << 20)).toFixed(0)} MB`;

const child = await startServe({ esUrl, prefix: `fuzz-${process.pid}`, bin: values.bin, nodeArgs: [`--max-old-space-size=${values['heap-mb']}`] });
const startRss = rssOf(child.pid).now;
console.log(`kontext serve pid ${child.pid}, forward :${child.forwardPort}, RSS at start ${mb(startRss)}`);
const canary = new Canary(child, 200);
canary.start();
await new Promise((r) => setTimeout(r, 2000));
const rows: string[] = ['| shape | sent | closed | reason | peak RSS | time |', '|---|---|---|---|---|---|'];
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const bomb of BOMBS) {
      if (values.only && !bomb.name.includes(values.only)) continue;
      if (child.exited) break;
      const r = await throwBomb(child, bomb, Number(values.scale), 180_000);
      const row = `| ${r.name} | ${r.sentBytes} B | ${r.closed ? 'yes' : 'NO'} | ${child.exited ? 'PROCESS DIED' : r.reasons.join(', ') || '—'} | ${Number.isNaN(r.peakRss) ? '—' : mb(r.peakRss)} | ${(r.ms / 1000).toFixed(1)} s |`;
      rows.push(row);
      console.log(row);
    }
  }
} finally {
  await canary.stop();
  const s = canary.summary();
  const canaryLine = `canary: ${s.acked} acked, ${s.failures} failed, ack latency p50 ${s.p50.toFixed(0)} ms, max ${s.max.toFixed(0)} ms`;
  console.log(rows.join('\n'));
  console.log(canaryLine);
  if (values.out) {
    writeFileSync(values.out, [`# Forward input under hostile input (scripts/fuzz-forward.ts)`, '',
      `${new Date().toISOString()}, ${values.rounds} round(s), scale ${values.scale}, heap cap ${values['heap-mb']} MB, node ${process.version}.`,
      `RSS of kontext serve at start: ${mb(startRss)}. Canary: one valid event every 200 ms over its own connection, acked after Elasticsearch stored it.`,
      '', ...rows, '', canaryLine, child.exited ? '\nkontext serve DIED.' : '', ''].join('\n'));
  }
  if (child.exited) console.log('kontext serve DIED:', child.logs.slice(-3).map((l) => l.msg).join(' | '));
  await child.stop();
}
