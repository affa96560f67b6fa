/**
 * Elasticsearch killed (kill -9) and restarted while `kontext serve` runs and a forward peer
 * streams: the test starts its own Elasticsearch (the shared one must stay up for the other
 * tests), kills it in the middle of a chunk and starts it again on the same data and port.
 * kontext keeps the unstored writes queued and retries them (nothing is acked meanwhile), the
 * peer re-sends what was not acked: every event is stored exactly once and the contexts equal
 * those of a clean run of the same chunks on the same Elasticsearch.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalEs, type LocalEs } from '../src/es-local/local-es.ts';
import { createEsClient } from '../src/store/es-client.ts';
import { simulate } from '../src/simulate/index.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { differing, freePort, kill, partition, readStore, serve } from './helpers/kontext-proc.ts';
import { assertExactlyOnce, streamChunks } from './helpers/fault-peer.ts';

const CHUNK = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dataName = `fault-es-${process.pid}`;
let es: LocalEs | undefined;
let esPort: number;
const events: AuditEvent[] = [...simulate({ seed: 29, start: Date.UTC(2026, 2, 2, 9), durationMs: 60_000, actionsPerMinute: 20, users: 4 }) as Iterable<AuditEvent>];

before(async () => {
  esPort = await freePort();
  es = await startLocalEs({ port: esPort, dataName, fresh: true, heap: '512m', removeOnStop: true, startTimeoutMs: 300_000 });
});

after(async () => { await es?.stop(); });

test('Elasticsearch killed and restarted mid-stream: stored exactly once, the same contexts as the clean run', { timeout: 900_000 }, async (t) => {
  const client = () => createEsClient({ elasticsearchUrl: es!.url });
  const run = async (prefix: string, fault?: (k: number) => Promise<void> | undefined) => {
    const port = await freePort();
    const svc = await serve(prefix, port, [], 180_000, es!.url);
    try { await streamChunks(port, events, CHUNK, fault); } finally { await kill(svc, 'SIGTERM'); }
    const c = client();
    try { return { state: await readStore(c, prefix), stderr: svc.stderr.join('') }; } finally { await c.close(); }
  };
  const clean = await run('clean');
  assertExactlyOnce(clean.state, events.map((e) => e.auditID), 'clean run');
  const want = partition(clean.state.owner);
  assert.ok(want.length > 10, `enough contexts (${want.length})`);

  let restarted = false;
  const faulty = await run('killed', (k) => {
    if (k !== 2) return undefined;
    return (async () => {
      await sleep(200);
      process.kill(-es!.pid, 'SIGKILL');
      await sleep(2000);
      es = await startLocalEs({ port: esPort, dataName, heap: '512m', removeOnStop: true, startTimeoutMs: 300_000 });
      restarted = true;
    })();
  });
  assert.ok(restarted, 'Elasticsearch was killed and started again');
  assertExactlyOnce(faulty.state, events.map((e) => e.auditID), 'Elasticsearch killed');
  const got = partition(faulty.state.owner);
  const diff = differing(got, want);
  t.diagnostic(`contexts differing from the clean run: ${diff} of ${got.length} (clean ${want.length})`);
  assert.equal(diff, 0, `${diff} of ${got.length} contexts differ from the clean run (${want.length})`);
  assert.match(faulty.stderr, /Elasticsearch write failed; retrying|backpressure|slow to answer|ECONNREFUSED|No Living connections/i, 'the outage is visible in the log');
});
