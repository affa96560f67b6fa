/**
 * Error analysis of contexts on a recorded corpus: per true action, which of its core events
 * went elsewhere (missing) and which foreign events joined its best-matching context (extra),
 * summed over actions as the trigger-Jaccard loss each kind of event causes.
 *
 *   node --import tsx scripts/attribution-misses.ts [--dir datasets/recorded] [--runs r01-r58]
 *     [--level Metadata] [--top 25] [--actions 15]
 *
 * Only for the training runs (r01–r58): the test split is for reporting, never for tuning.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { recordedCases, recordedRuns, parseRunSelection } from '../src/eval/corpus.ts';
import { runContexts } from '../src/eval/run.ts';
import { scoreContexts } from '../src/eval/score.ts';
import { createLabeler } from '../src/label/index.ts';
import type { ContextDoc } from '../src/types/context.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { userClass } from '../src/k8s/identity.ts';

const { values: o } = parseArgs({
  options: {
    dir: { type: 'string', default: 'datasets/recorded' },
    runs: { type: 'string', default: 'r01-r58' },
    level: { type: 'string', default: 'Metadata' },
    top: { type: 'string', default: '25' },
    actions: { type: 'string', default: '15' },
    show: { type: 'string' },
    model: { type: 'string', default: 'models/default' },
  },
});
const select = parseRunSelection(o.runs!);
const cases = (await recordedCases(o.dir!, () => {}, 'all', select)).filter((c) => c.level === o.level);
if (!cases.length) throw new Error(`no case at level ${o.level}`);
const c = cases[0]!;

// the command of every step, for readable rows
const commands = new Map<string, string>();
for (const d of recordedRuns(o.dir!)) {
  const m = JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8'));
  const run = String(m.run ?? path.basename(d));
  if (!select(run)) continue;
  for (const s of m.steps ?? []) commands.set(`${run}/${s.id}`, String(s.command ?? ''));
}

// one pipeline per stream (recordings made side by side on several clusters are separate streams), as evaluate does
const truth = await c.truth();
const records: AuditEvent[] = [];
const run = { docs: [] as ContextDoc[] };
for (const st of c.streams) {
  const recs: AuditEvent[] = [];
  for await (const r of st.records() as AsyncIterable<AuditEvent>) recs.push(r);
  const labeler = await createLabeler({ modelDir: o.model });
  const r = await runContexts(recs, labeler);
  run.docs.push(...r.docs);
  records.push(...recs);
}
const audit = new Map<string, AuditEvent>();
for (const r of records) audit.set(r.auditID, r);

const ctxOf = new Map<string, ContextDoc>();
for (const d of run.docs) for (const m of d.members) ctxOf.set(m.auditID, d);
const truthOf = (id: string) => { const t = truth.events.get(id); return t?.action && t.core ? t.action : `bg:${t?.user ?? '?'}`; };

function who(u: string | undefined): string {
  const cls = userClass(u);
  if (cls === 'human' || cls === 'sa') return cls === 'human' ? 'person' : `sa:${(u ?? '').split(':').pop()}`;
  return cls.replace('sa:kube-system:', '');
}
function sig(id: string): string {
  const a = audit.get(id);
  if (!a) return '?';
  const r = a.objectRef;
  const res = r ? `${r.resource ?? ''}${r.subresource ? '/' + r.subresource : ''}` : a.requestURI?.split('?')[0] ?? '';
  return `${who(a.user?.username)} ${a.verb} ${res}${r?.name ? '' : ' (no name)'}`;
}
function where(d: ContextDoc | undefined, self: string): string {
  if (!d) return 'unassigned';
  if (d.label.startsWith('background ')) return `bg(${d.label.slice(11)})`;
  const n = new Map<string, number>();
  for (const m of d.members) { const t = truthOf(m.auditID); n.set(t, (n.get(t) ?? 0) + 1); }
  let maj = ''; let best = 0;
  for (const [t, k] of n) if (k > best) { maj = t; best = k; }
  if (maj === self) return 'split of itself';
  if (maj.startsWith('bg:')) return 'context of background';
  const [ra, sa] = self.split('/'); const [rb, sb] = maj.split('/');
  return ra === rb ? (sb! < sa! ? 'earlier step' : 'later step') : 'other run';
}

// per action: best-Jaccard context, missing and extra events, J loss shared out over them
const members = new Map<string, string[]>();
for (const [id, t] of truth.events) { const k = truthOf(id); if (!t.action || !t.core) continue; (members.get(k) ?? members.set(k, []).get(k)!).push(id); }
const lossBy = new Map<string, { loss: number; n: number }>();
const rows: { action: string; j: number; miss: number; extra: number; why: string }[] = [];
for (const [action, ids] of members) {
  const per = new Map<ContextDoc | undefined, number>();
  for (const id of ids) { const d = ctxOf.get(id); per.set(d, (per.get(d) ?? 0) + 1); }
  let best: ContextDoc | undefined; let bestJ = 0;
  for (const [d, n] of per) { if (!d) continue; const j = n / (ids.length + d.members.length - n); if (j > bestJ) { bestJ = j; best = d; } }
  const miss = ids.filter((id) => ctxOf.get(id) !== best);
  const set = new Set(ids);
  const extra = best ? best.members.map((m) => m.auditID).filter((id) => !set.has(id) && truth.events.has(id)) : [];
  const loss = 1 - bestJ;
  const bad = miss.length + extra.length;
  const kinds = new Map<string, number>();
  for (const id of miss) { const k = `missing: ${sig(id)} → ${where(ctxOf.get(id), action)}`; kinds.set(k, (kinds.get(k) ?? 0) + 1); }
  for (const id of extra) { const t = truthOf(id); const k = `extra: ${sig(id)} ← ${t.startsWith('bg:') ? 'background' : t.split('/')[0] === action.split('/')[0] ? (t < action ? 'earlier step' : 'later step') : 'other run'}`; kinds.set(k, (kinds.get(k) ?? 0) + 1); }
  for (const [k, n] of kinds) { const e = lossBy.get(k) ?? { loss: 0, n: 0 }; e.loss += (loss * n) / bad; e.n += n; lossBy.set(k, e); }
  const top = [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([k, n]) => `${n}× ${k}`).join('; ');
  rows.push({ action, j: bestJ, miss: miss.length, extra: extra.length, why: top });
}
const total = [...members.keys()].length;
const meanJ = rows.reduce((s, r) => s + r.j, 0) / total;
const official = scoreContexts(truth, run.docs);
console.log(`${c.variant} @ ${c.level}: ${total} actions, trigger-action mean best J ${meanJ.toFixed(3)} (loss ${(1 - meanJ).toFixed(3)}); J trig ${official.partition.trigger.jaccard.toFixed(3)}, whole ${official.whole}, users ctx ${official.users.filter((u) => u.user !== '(others)').reduce((n, u) => n + u.predicted, 0)}`);
console.log('\nloss (J points over all actions) by kind of misplaced event:');
for (const [k, v] of [...lossBy].sort((a, b) => b[1].loss - a[1].loss).slice(0, Number(o.top))) {
  console.log(`  ${(v.loss / total).toFixed(4)}  ${String(v.n).padStart(5)}  ${k}`);
}
console.log('\nworst actions:');
for (const r of rows.sort((a, b) => a.j - b.j).slice(0, Number(o.actions))) {
  console.log(`  ${r.j.toFixed(3)}  ${r.action.padEnd(28)} miss ${String(r.miss).padStart(4)} extra ${String(r.extra).padStart(4)}  ${commands.get(r.action) ?? ''}\n      ${r.why}`);
}

// --show <action>: every misplaced event of one action, in time order
if (o.show) {
  const action = o.show;
  const ids = members.get(action) ?? [];
  const per = new Map<ContextDoc | undefined, number>();
  for (const id of ids) { const d = ctxOf.get(id); per.set(d, (per.get(d) ?? 0) + 1); }
  let best: ContextDoc | undefined; let bestJ = 0;
  for (const [d, n] of per) { if (!d) continue; const j = n / (ids.length + d.members.length - n); if (j > bestJ) { bestJ = j; best = d; } }
  const set = new Set(ids);
  const list = [...ids.filter((id) => ctxOf.get(id) !== best).map((id) => ['-', id] as const), ...(best?.members ?? []).filter((m) => !set.has(m.auditID)).map((m) => ['+', m.auditID] as const)];
  list.sort((a, b) => (audit.get(a[1])?.requestReceivedTimestamp ?? '').localeCompare(audit.get(b[1])?.requestReceivedTimestamp ?? ''));
  console.log(`\n${action}: best context ${best?.id} (${best?.label}; ${best?.action}) J ${bestJ.toFixed(3)}`);
  for (const [k, id] of list) {
    const a = audit.get(id)!;
    const d = ctxOf.get(id);
    console.log(`  ${k} ${a.requestReceivedTimestamp.slice(11, 23)} ${a.user?.username} ${a.verb} ${a.requestURI?.slice(0, 90)}  truth=${truthOf(id)} ctx=${d?.id.slice(0, 8)} ${d?.label}`);
  }
}

// actions whose own requests start more than one context (a command split in two)
const started = new Map<string, ContextDoc[]>();
for (const d of run.docs) {
  if (d.label.startsWith('background ')) continue;
  const t = truth.events.get(d.trigger.auditID);
  const k = t?.action && t.core ? t.action : `(no action: ${sig(d.trigger.auditID)})`;
  (started.get(k) ?? started.set(k, []).get(k)!).push(d);
}
const splitKinds = new Map<string, number>();
for (const [k, ds] of started) {
  if (ds.length < 2 && !k.startsWith('(no action')) continue;
  const cmd = (commands.get(k) ?? k).split(' ').slice(0, 2).join(' ');
  splitKinds.set(cmd, (splitKinds.get(cmd) ?? 0) + ds.length - (k.startsWith('(no action') ? 0 : 1));
}
console.log('\nextra contexts started by persons, by command:');
for (const [k, n] of [...splitKinds].sort((a, b) => b[1] - a[1]).slice(0, Number(o.top))) console.log(`  ${String(n).padStart(4)}  ${k}`);
for (const [k, ds] of started) {
  if (ds.length < 2 || !(commands.get(k) ?? '').startsWith(process.env.SPLIT ?? '\u0000')) continue;
  console.log(`  ${k} ${commands.get(k)}: ${ds.map((d) => `[${d.members.length}] ${sig(d.trigger.auditID)} ${audit.get(d.trigger.auditID)?.requestURI?.slice(0, 80)}`).join(' | ')}`);
}
