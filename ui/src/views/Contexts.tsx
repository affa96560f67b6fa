/**
 * Contexts: search (every dimension of lib/filters.ts, reflected in the URL), a table of the
 * matches, more pages on demand, and closing contexts added live through the contextClosed
 * subscription.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { gql, subscribe } from '../api.ts';
import { CONTEXTS, CONTEXT_CLOSED } from '../lib/queries.ts';
import { DIMENSIONS, parseSearch, toGraphqlFilter, toSearch, type UiFilter } from '../lib/filters.ts';
import { flagLabel, outcomeLabel } from '../lib/format.ts';
import { navigate } from '../router.ts';
import { ContextTable, type ContextRow } from './ContextTable.tsx';
import { ErrorBox } from './common.tsx';

const PAGE = 50;
const MAX_LIVE_ROWS = 500;

export function SearchForm({ initial, onSearch, compact }: { initial: UiFilter; onSearch: (f: UiFilter) => void; compact?: boolean }) {
  const [f, setF] = useState<UiFilter>(initial);
  useEffect(() => setF(initial), [toSearch(initial)]);
  const set = (k: string, v: string) => setF((old) => ({ ...old, [k]: v }));
  return (
    <form class={compact ? 'search compact' : 'search'} onSubmit={(e) => { e.preventDefault(); onSearch(f); }}>
      {DIMENSIONS.map((d) => (
        <label key={d.key}>{d.label}
          {d.kind === 'enum'
            ? <select name={d.key} value={f[d.key]} onChange={(e) => set(d.key, (e.currentTarget as HTMLSelectElement).value)}>
                <option value="">any</option>
                {d.values!.map((v) => <option key={v} value={v}>{d.key === 'flag' ? flagLabel(v) : outcomeLabel(v)}</option>)}
              </select>
            : <input name={d.key} value={f[d.key]} placeholder={d.placeholder} onInput={(e) => set(d.key, (e.currentTarget as HTMLInputElement).value)} />}
        </label>
      ))}
      <div class="actions"><button type="submit">Search</button></div>
    </form>
  );
}

export function Contexts({ search, onAuth }: { search: string; onAuth: (e: unknown) => boolean }) {
  const filter = useMemo(() => parseSearch(search), [search]);
  const gqlFilter = useMemo(() => toGraphqlFilter(filter), [filter]);
  const [rows, setRows] = useState<ContextRow[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(false);
  const [live, setLive] = useState(true);
  const [liveState, setLiveState] = useState<'off' | 'on' | 'error'>('off');
  const [fresh, setFresh] = useState<Set<string>>(new Set());

  useEffect(() => {
    const ac = new AbortController();
    setLoading(true); setError(null); setFresh(new Set());
    gql(CONTEXTS, { filter: gqlFilter, first: PAGE }, ac.signal).then((d) => {
      setRows(d.contexts.nodes); setTotal(d.contexts.totalCount);
      setCursor(d.contexts.pageInfo.hasNextPage ? d.contexts.pageInfo.endCursor : null);
    }).catch((e) => { if (!ac.signal.aborted && !onAuth(e)) setError(e); }).finally(() => { if (!ac.signal.aborted) setLoading(false); });
    return () => ac.abort();
  }, [search]);

  useEffect(() => {
    if (!live) { setLiveState('off'); return; }
    // closing contexts of any time: the list is newest first, so a time range's end does not apply
    const { to: _to, ...liveFilter } = gqlFilter;
    setLiveState('on');
    return subscribe<{ contextClosed: ContextRow }>(CONTEXT_CLOSED, { filter: liveFilter }, (d) => {
      const c = d.contextClosed;
      setRows((old) => [c, ...old.filter((r) => r.id !== c.id)].slice(0, MAX_LIVE_ROWS));
      setTotal((t) => (t === null ? t : t + 1));
      setFresh((s) => new Set(s).add(c.id));
    }, (e) => { if (!onAuth(e)) setLiveState('error'); });
  }, [search, live]);

  const more = () => {
    if (!cursor) return;
    setLoading(true);
    gql(CONTEXTS, { filter: gqlFilter, first: PAGE, after: cursor }).then((d) => {
      setRows((old) => [...old, ...d.contexts.nodes.filter((n: ContextRow) => !old.some((o) => o.id === n.id))]);
      setCursor(d.contexts.pageInfo.hasNextPage ? d.contexts.pageInfo.endCursor : null);
    }).catch((e) => { if (!onAuth(e)) setError(e); }).finally(() => setLoading(false));
  };

  return (
    <section>
      <SearchForm initial={filter} onSearch={(f) => { const q = toSearch(f); navigate(q ? `/contexts?${q}` : '/contexts'); }} />
      <div class="toolbar">
        <span class="count" data-testid="total">{total === null ? '' : `${total} context${total === 1 ? '' : 's'}`}</span>
        {loading ? <span class="dim">loading…</span> : null}
        <label class="live"><input type="checkbox" checked={live} onChange={(e) => setLive((e.currentTarget as HTMLInputElement).checked)} /> live
          <span class={`dot ${liveState}`} title={liveState === 'on' ? 'receiving closing contexts' : liveState === 'error' ? 'live updates failed' : 'off'} /></label>
        {fresh.size ? <span class="dim" data-testid="fresh">{fresh.size} new</span> : null}
      </div>
      <ErrorBox error={error} />
      <ContextTable rows={rows} fresh={fresh} />
      {cursor ? <button class="more" onClick={more} disabled={loading}>More</button> : null}
    </section>
  );
}
