/**
 * Timeline: contexts as swimlanes over time, one lane per triggering user or per namespace,
 * coloured by outcome (flagged contexts in the flag colour). Wheel or drag to zoom and pan
 * (d3-zoom); a click opens the context.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { scaleUtc } from 'd3-scale';
import { select } from 'd3-selection';
import { zoom, zoomIdentity, type ZoomTransform } from 'd3-zoom';
import { gql } from '../api.ts';
import { TIMELINE } from '../lib/queries.ts';
import { buildLanes, extentOf, type LaneBy, type LaneContext } from '../lib/lanes.ts';
import { parseSearch, toGraphqlFilter, toSearch, type UiFilter } from '../lib/filters.ts';
import { FLAGGED_COLOR, OUTCOME_COLOR, outcomeLabel, tickLabel } from '../lib/format.ts';
import { contextHref, navigate } from '../router.ts';
import { SearchForm } from './Contexts.tsx';
import { ErrorBox } from './common.tsx';

/** contexts drawn at most (newest first), read PAGE at a time */
const MAX_CONTEXTS = 2000;
const PAGE = 500;
const ROW_H = 14;
const LANE_PAD = 5;
const laneHeight = (rows: number) => rows * ROW_H + 2 * LANE_PAD;
const LABEL_W = 200;
const AXIS_H = 26;

export function Timeline({ search, onAuth }: { search: string; onAuth: (e: unknown) => boolean }) {
  const params = new URLSearchParams(search);
  const by: LaneBy = params.get('by') === 'namespace' ? 'namespace' : 'user';
  const system = params.get('system') === '1';
  const filter = useMemo(() => { const f = parseSearch(search); if (!f.from) f.from = 'now-1h'; return f; }, [search]);
  const [contexts, setContexts] = useState<LaneContext[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [width, setWidth] = useState(1000);
  const [t, setT] = useState<ZoomTransform>(zoomIdentity);
  const box = useRef<HTMLDivElement>(null);
  const svg = useRef<SVGSVGElement>(null);

  const go = (f: UiFilter, b: LaneBy, sys = system) => {
    const q = toSearch(f);
    navigate(`/timeline?${q}${q ? '&' : ''}by=${b}${sys ? '&system=1' : ''}`);
  };

  useEffect(() => {
    const ac = new AbortController();
    setError(null);
    (async () => {
      const all: LaneContext[] = [];
      let after: string | undefined;
      for (;;) {
        const d = await gql(TIMELINE, { filter: toGraphqlFilter(filter), first: PAGE, after }, ac.signal);
        all.push(...d.contexts.nodes);
        setTotal(d.contexts.totalCount);
        if (!d.contexts.pageInfo.hasNextPage || all.length >= MAX_CONTEXTS) break;
        after = d.contexts.pageInfo.endCursor;
      }
      setContexts(all); setT(zoomIdentity);
    })().catch((e) => { if (!ac.signal.aborted && !onAuth(e)) setError(e); });
    return () => ac.abort();
  }, [search]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(400, el.clientWidth)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const plotW = width - LABEL_W - 10;
  const { lanes, hidden } = useMemo(() => {
    const all = extentOf([{ key: '', rows: 1, items: contexts.map((c) => ({ ctx: c, start: Date.parse(c.start), end: Date.parse(c.end), color: '', row: 0 })) }]);
    const minGap = all ? ((all[1] - all[0]) / Math.max(1, plotW)) * 4 : 0;
    return buildLanes(contexts, by, { system, minGap });
  }, [contexts, by, system, plotW]);
  const extent = extentOf(lanes);
  const tops: number[] = [];
  let height = AXIS_H;
  for (const l of lanes) { tops.push(height); height += laneHeight(l.rows); }
  height += 4;

  useEffect(() => {
    if (!svg.current) return;
    const z = zoom<SVGSVGElement, unknown>().scaleExtent([1, 10_000])
      .translateExtent([[0, 0], [plotW, height]]).extent([[0, 0], [plotW, height]])
      .on('zoom', (ev) => setT(ev.transform));
    select(svg.current).call(z);
    return () => { if (svg.current) select(svg.current).on('.zoom', null); };
  }, [plotW, height]);

  const pad = extent ? Math.max(1000, (extent[1] - extent[0]) * 0.02) : 0;
  const base = scaleUtc().domain(extent ? [extent[0] - pad, extent[1] + pad] : [Date.now() - 3_600_000, Date.now()]).range([0, plotW]);
  const x = t.rescaleX(base);
  const ticks = x.ticks(Math.max(2, Math.floor(plotW / 120)));
  const [d0, d1] = x.domain();
  const tickFormat = (d: Date) => tickLabel(d, +d1! - +d0!);

  return (
    <section>
      <SearchForm initial={filter} compact onSearch={(f) => go(f, by)} />
      <div class="toolbar">
        <label>Lanes <select name="by" value={by} onChange={(e) => go(filter, (e.currentTarget as HTMLSelectElement).value as LaneBy)}>
          <option value="user">per user</option><option value="namespace">per namespace</option></select></label>
        {by === 'user' ? <label><input type="checkbox" name="system" checked={system} onChange={(e) => go(filter, by, (e.currentTarget as HTMLInputElement).checked)} /> Kubernetes components</label> : null}
        <span class="count">{total === null ? '' : total > MAX_CONTEXTS ? `newest ${MAX_CONTEXTS} of ${total} contexts` : `${total} context${total === 1 ? '' : 's'}`}{hidden ? `, ${hidden} lanes not shown` : ''}</span>
        <button type="button" onClick={() => { if (svg.current) { setT(zoomIdentity); select(svg.current).property('__zoom', zoomIdentity); } }}>Reset zoom</button>
        <span class="legend">
          {Object.entries(OUTCOME_COLOR).map(([o, c]) => <span key={o}><i style={{ background: c }} />{outcomeLabel(o)}</span>)}
          <span><i style={{ background: FLAGGED_COLOR }} />flagged</span>
        </span>
      </div>
      <ErrorBox error={error} />
      <div class="timeline" ref={box}>
        {lanes.length === 0 ? <p class="empty">No contexts in this range.</p> : (
          <div class="timeline-grid">
            <svg class="lane-labels" width={LABEL_W} height={height}>
              {lanes.map((l, i) => <text key={l.key} x={LABEL_W - 8} y={tops[i]! + LANE_PAD + ROW_H / 2 + 4} text-anchor="end"><title>{l.key}</title>{l.key.length > 28 ? `${l.key.slice(0, 27)}…` : l.key}</text>)}
            </svg>
            <svg ref={svg} class="lanes" width={plotW} height={height} data-testid="timeline">
              {ticks.map((d) => <g key={+d} transform={`translate(${x(d)},0)`}><line y1={AXIS_H - 4} y2={height} class="grid" /><text y={AXIS_H - 8} text-anchor="middle">{tickFormat(d)}</text></g>)}
              {lanes.map((l, i) => (
                <g key={l.key} transform={`translate(0,${tops[i]})`}>
                  <rect class="lane-bg" x={0} y={0} width={plotW} height={laneHeight(l.rows)} />
                  {l.items.map((it) => {
                    const x0 = x(it.start);
                    const w = Math.max(4, x(it.end) - x0);
                    if (x0 + w < 0 || x0 > plotW) return null;
                    return (
                      <a key={it.ctx.id} href={contextHref(it.ctx.id)} onClick={(e) => { e.preventDefault(); navigate(contextHref(it.ctx.id)); }}>
                        <rect class="ctx" x={x0} y={LANE_PAD + it.row * ROW_H + 1} width={w} height={ROW_H - 2} rx={2} fill={it.color} data-id={it.ctx.id}>
                          <title>{`${it.ctx.action}\n${it.ctx.start} · ${outcomeLabel(it.ctx.outcome)}${it.ctx.flags.length ? ' · ' + it.ctx.flags.join(', ').toLowerCase() : ''}`}</title>
                        </rect>
                      </a>
                    );
                  })}
                </g>
              ))}
            </svg>
          </div>
        )}
      </div>
    </section>
  );
}
