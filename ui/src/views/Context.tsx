/**
 * One context: its trigger, a waterfall of its members over time grouped by component, every
 * member's verb/resource/name/code, the members behind each flag, the same user's previous and
 * next contexts, and other contexts of the same object. Members are read in pages of
 * MEMBER_PAGE, so very large contexts load on demand.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { select } from 'd3-selection';
import { zoom, zoomIdentity, type ZoomTransform } from 'd3-zoom';
import { gql } from '../api.ts';
import { CONTEXT, MEMBERS_PAGE, MEMBER_PAGE } from '../lib/queries.ts';
import { groupMembers, xOf, type WaterfallMember } from '../lib/waterfall.ts';
import { codeColor, flagLabel, formatDuration, formatOffset, formatTime, objectPath, resourcePath } from '../lib/format.ts';
import { searchFor } from '../lib/filters.ts';
import { contextHref } from '../router.ts';
import { ErrorBox, FlagBadges, Link, OutcomeBadge } from './common.tsx';

interface Trigger {
  auditID: string; user: string; groups: string[]; userAgent: string; client: string; sourceIPs: string[]; verb: string;
  apiGroup: string; resource: string; subresource?: string | null; namespace?: string | null; name?: string | null; code: number; impersonatedUser?: string | null;
}
interface Ref { id: string; action: string; start: string; outcome?: string; eventCount?: number }
export interface ContextData {
  id: string; cluster: string; action: string; label: string; state: string; outcome: string; flags: string[]; start: string; end: string;
  durationMs: number; eventCount: number; failures: number; forbidden: number; confidence: number;
  users: string[]; namespaces: string[]; resources: string[]; verbs: string[];
  trigger: Trigger;
  flagMatches: { flag: string; members: string[]; complete: boolean }[];
  members: WaterfallMember[];
  previousOfUser: Ref | null; nextOfUser: Ref | null; sameObject: Ref[];
}

const ROW_H = 18;
const LABEL_W = 230;

/**
 * Members over time, one row per actor under its component's heading. Wheel to zoom (the
 * control-plane burst of a cascade is milliseconds, kubelet work seconds), drag to pan.
 */
export function Waterfall({ members, start, end, width = 900, trigger }: { members: readonly WaterfallMember[]; start: number; end: number; width?: number; trigger: string }) {
  const groups = useMemo(() => groupMembers(members), [members]);
  const svg = useRef<SVGSVGElement>(null);
  const [t, setT] = useState<ZoomTransform>(zoomIdentity);
  const plotW = width - LABEL_W;
  const rowsCount = groups.reduce((n, g) => n + 1 + g.rows.length, 0);
  const height = 20 + rowsCount * ROW_H + 4;
  useEffect(() => {
    if (!svg.current) return;
    const z = zoom<SVGSVGElement, unknown>().scaleExtent([1, 5000])
      .extent([[LABEL_W, 0], [width, height]]).translateExtent([[LABEL_W, 0], [width, height]])
      .on('zoom', (ev) => setT(ev.transform));
    select(svg.current).call(z);
    return () => { if (svg.current) select(svg.current).on('.zoom', null); };
  }, [width, height]);
  const px = (time: number) => t.applyX(LABEL_W + xOf(time, start, end, plotW));
  const timeAt = (x: number) => ((t.invertX(x) - LABEL_W) / plotW) * (end - start);
  let y = 20;
  const rows: preact.JSX.Element[] = [];
  for (const g of groups) {
    rows.push(<text key={`g-${g.component}`} class="group" x={4} y={y + 13} data-component={g.component}>{`${g.label} (${g.count})`}</text>);
    y += ROW_H;
    for (const r of g.rows) {
      const x0 = px(r.first);
      const x1 = px(r.last);
      rows.push(
        <g key={`r-${g.component}-${r.actor}`} transform={`translate(0,${y})`}>
          <text class="actor" x={16} y={13}><title>{r.actor}</title>{r.actor.length > 30 ? `${r.actor.slice(0, 29)}…` : r.actor}</text>
          <g clip-path="url(#waterfall-plot)">
            <line class="span" x1={x0} x2={Math.max(x1, x0 + 1)} y1={9} y2={9} />
            {r.members.map((m) => (
              <rect key={m.auditID} class={m.auditID === trigger ? 'member trigger' : 'member'} x={px(Date.parse(m.time)) - 2} y={3} width={4} height={12} fill={codeColor(m.code)}>
                <title>{`${formatOffset(Date.parse(m.time) - start)} ${m.verb} ${resourcePath(m.resource, m.subresource)} ${objectPath(m.namespace, m.name)} → ${m.code}`}</title>
              </rect>
            ))}
          </g>
        </g>,
      );
      y += ROW_H;
    }
  }
  const ticks = 6;
  return (
    <svg ref={svg} class="waterfall" width={width} height={height} data-testid="waterfall">
      <defs><clipPath id="waterfall-plot"><rect x={LABEL_W - 3} y={0} width={plotW + 6} height={height} /></clipPath></defs>
      {Array.from({ length: ticks + 1 }, (_, i) => {
        const tx = LABEL_W + (plotW * i) / ticks;
        return <g key={i}><line class="grid" x1={tx} x2={tx} y1={14} y2={height} /><text x={tx} y={11} text-anchor={i === ticks ? 'end' : i === 0 ? 'start' : 'middle'}>{formatOffset(Math.max(0, timeAt(tx)))}</text></g>;
      })}
      {rows}
    </svg>
  );
}

function TriggerPanel({ t }: { t: Trigger }) {
  const res = resourcePath(t.apiGroup ? `${t.apiGroup}/${t.resource}` : t.resource, t.subresource);
  return (
    <dl class="trigger" data-testid="trigger">
      <dt>User</dt><dd><Link href={`/contexts?${searchFor('user', t.user)}`}>{t.user}</Link>{t.impersonatedUser ? <> as <b>{t.impersonatedUser}</b></> : null}</dd>
      <dt>Groups</dt><dd>{t.groups.length ? t.groups.join(', ') : '—'}</dd>
      <dt>User agent</dt><dd class="mono">{t.userAgent || '—'}</dd>
      <dt>Source IPs</dt><dd class="mono">{t.sourceIPs.length ? t.sourceIPs.join(', ') : '—'}</dd>
      <dt>Request</dt><dd class="mono">{t.verb} {res}</dd>
      <dt>Object</dt><dd class="mono">{objectPath(t.namespace, t.name) || '—'}</dd>
      <dt>Response</dt><dd><span class="code" style={{ color: codeColor(t.code) }}>{t.code}</span></dd>
      <dt>Audit ID</dt><dd class="mono">{t.auditID}</dd>
    </dl>
  );
}

export function ContextView({ id, onAuth }: { id: string; onAuth: (e: unknown) => boolean }) {
  const [ctx, setCtx] = useState<ContextData | null | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [width, setWidth] = useState(Math.min(1200, Math.max(600, window.innerWidth - 60)));

  useEffect(() => {
    const on = () => setWidth(Math.min(1200, Math.max(600, window.innerWidth - 60)));
    addEventListener('resize', on);
    return () => removeEventListener('resize', on);
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    setCtx(undefined); setError(null);
    gql(CONTEXT, { id, first: MEMBER_PAGE }, ac.signal).then((d) => setCtx(d.context))
      .catch((e) => { if (!ac.signal.aborted && !onAuth(e)) setError(e); });
    return () => ac.abort();
  }, [id]);

  const loadMore = () => {
    if (!ctx) return;
    setLoadingMore(true);
    gql(MEMBERS_PAGE, { id, first: MEMBER_PAGE, offset: ctx.members.length })
      .then((d) => setCtx((c) => (c ? { ...c, members: [...c.members, ...(d.context?.members ?? [])] } : c)))
      .catch((e) => { if (!onAuth(e)) setError(e); }).finally(() => setLoadingMore(false));
  };

  if (error) return <ErrorBox error={error} />;
  if (ctx === undefined) return <p class="dim">loading…</p>;
  if (ctx === null) return <p class="empty">No context with id <code>{id}</code>.</p>;
  const start = Date.parse(ctx.start);
  const end = Date.parse(ctx.end);
  const matched = new Map<string, string[]>();
  for (const fm of ctx.flagMatches) for (const a of fm.members) matched.set(a, [...(matched.get(a) ?? []), fm.flag]);
  const byId = new Map(ctx.members.map((m) => [m.auditID, m]));

  return (
    <section class="context">
      <nav class="neighbours">
        {ctx.previousOfUser ? <Link href={contextHref(ctx.previousOfUser.id)} title={ctx.previousOfUser.action}>← previous of {ctx.trigger.user}</Link> : <span class="dim">no earlier context of {ctx.trigger.user}</span>}
        {ctx.nextOfUser ? <Link href={contextHref(ctx.nextOfUser.id)} title={ctx.nextOfUser.action}>next of {ctx.trigger.user} →</Link> : <span class="dim">no later context of {ctx.trigger.user}</span>}
      </nav>
      <h2 data-testid="action">{ctx.action}</h2>
      <p class="summary">
        <OutcomeBadge outcome={ctx.outcome} /> <FlagBadges flags={ctx.flags} />
        <span>{formatTime(ctx.start)} UTC</span> · <span>{formatDuration(ctx.durationMs)}</span> · <span data-testid="event-count">{ctx.eventCount} events</span>
        {ctx.failures ? <> · <span>{ctx.failures} failed</span></> : null}{ctx.forbidden ? <> · <span>{ctx.forbidden} forbidden</span></> : null}
        {ctx.state === 'OPEN' ? <> · <b>still open</b></> : null} · <span class="dim">label {ctx.label}, confidence {ctx.confidence.toFixed(2)}</span>
      </p>
      <div class="cols">
        <div><h3>Trigger</h3><TriggerPanel t={ctx.trigger} /></div>
        <div>
          <h3>Touched</h3>
          <dl class="touched">
            <dt>Cluster</dt><dd data-testid="cluster"><Link href={`/contexts?${searchFor('cluster', ctx.cluster)}`}>{ctx.cluster}</Link></dd>
            <dt>Namespaces</dt><dd>{ctx.namespaces.length ? ctx.namespaces.map((n) => <Link key={n} href={`/contexts?${searchFor('namespace', n)}`}>{n}</Link>) : '—'}</dd>
            <dt>Resources</dt><dd class="mono">{ctx.resources.filter(Boolean).join(', ') || '—'}</dd>
            <dt>Verbs</dt><dd>{ctx.verbs.join(', ')}</dd>
            <dt>Users</dt><dd>{ctx.users.length}</dd>
          </dl>
          {ctx.flagMatches.length ? <><h3>Flags</h3>
            <ul class="flags" data-testid="flags">{ctx.flagMatches.map((fm) => (
              <li key={fm.flag}><b>{flagLabel(fm.flag)}</b>: {fm.members.length
                ? fm.members.map((a) => { const m = byId.get(a); return <a key={a} href={`#m-${a}`} class="mono">{m ? `${m.verb} ${resourcePath(m.resource, m.subresource)} ${objectPath(m.namespace, m.name)}` : a}</a>; })
                : <span class="dim">the matching event is not kept in compact members (no request bodies)</span>}
                {!fm.complete && fm.members.length ? <span class="dim"> (not every match is visible)</span> : null}</li>
            ))}</ul></> : null}
          <h3>Same object</h3>
          {ctx.sameObject.length ? <ul class="same-object" data-testid="same-object">{ctx.sameObject.map((o) => (
            <li key={o.id}><Link href={contextHref(o.id)}>{o.action}</Link> <span class="dim">{formatTime(o.start)}</span></li>
          ))}</ul> : <p class="dim">{ctx.trigger.name ? 'no other context touched this object' : 'the trigger names no object'}</p>}
        </div>
      </div>
      <h3>Cascade <span class="hint">wheel to zoom, drag to pan</span></h3>
      <Waterfall members={ctx.members} start={start} end={end} width={width} trigger={ctx.trigger.auditID} />
      {ctx.members.length < ctx.eventCount
        ? <p><span class="dim">{ctx.members.length} of {ctx.eventCount} members shown. </span><button onClick={loadMore} disabled={loadingMore}>Load {Math.min(MEMBER_PAGE, ctx.eventCount - ctx.members.length)} more</button></p>
        : null}
      <h3>Members</h3>
      <table class="members" data-testid="members">
        <thead><tr><th class="num">+time</th><th>Component</th><th>Actor</th><th>Verb</th><th>Resource</th><th>Object</th><th class="num">Code</th><th>Flags</th></tr></thead>
        <tbody>{ctx.members.map((m) => (
          <tr key={m.auditID} id={`m-${m.auditID}`} data-audit-id={m.auditID} class={m.auditID === ctx.trigger.auditID ? 'trigger' : undefined}>
            <td class="num">{formatOffset(Date.parse(m.time) - start)}</td><td>{m.component}</td><td class="dim">{m.actor}</td><td>{m.verb}</td>
            <td class="mono">{resourcePath(m.resource, m.subresource) || <span class="dim">(no resource)</span>}</td><td class="mono">{objectPath(m.namespace, m.name)}</td>
            <td class="num" style={{ color: codeColor(m.code) }}>{m.code}</td><td>{(matched.get(m.auditID) ?? []).map(flagLabel).join(', ')}</td>
          </tr>
        ))}</tbody>
      </table>
    </section>
  );
}
