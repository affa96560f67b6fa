/** Event lookup: an auditID and optionally its cluster (pasted, or in the URL /event/[<cluster>/]<auditID>) → its context. */
import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api.ts';
import { CONTEXT_OF_EVENT } from '../lib/queries.ts';
import { contextHref, eventHref, navigate } from '../router.ts';
import { ErrorBox } from './common.tsx';

export function EventLookup({ auditID, cluster, onAuth }: { auditID?: string; cluster?: string; onAuth: (e: unknown) => boolean }) {
  const [value, setValue] = useState(auditID ?? '');
  const [clusterValue, setCluster] = useState(cluster ?? '');
  const [error, setError] = useState<string | Error | null>(null);
  const [busy, setBusy] = useState(false);

  const lookup = (id: string, inCluster?: string) => {
    const a = id.trim();
    const c = inCluster?.trim() || undefined;
    if (!a) return;
    setBusy(true); setError(null);
    gql(CONTEXT_OF_EVENT, { auditID: a, cluster: c ?? null }).then((d) => {
      if (d.contextOfEvent) navigate(contextHref(d.contextOfEvent.id), true);
      else setError(`No stored context holds the event ${a}${c ? ` of cluster ${c}` : ''}.`);
    }).catch((e) => { if (!onAuth(e)) setError(e); }).finally(() => setBusy(false));
  };
  useEffect(() => { setCluster(cluster ?? ''); if (auditID) lookup(auditID, cluster); }, [auditID, cluster]);

  return (
    <section>
      <form class="lookup" onSubmit={(e) => {
        e.preventDefault();
        const a = value.trim(); const c = clusterValue.trim() || undefined;
        if (a === auditID && c === cluster) lookup(a, c); else if (a) navigate(eventHref(a, c));
      }}>
        <label>Audit ID <input name="auditID" value={value} placeholder="paste an auditID" size={48} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} /></label>
        <label>Cluster <input name="cluster" value={clusterValue} placeholder="any" size={16} onInput={(e) => setCluster((e.currentTarget as HTMLInputElement).value)} /></label>
        <button type="submit" disabled={busy}>Find its context</button>
      </form>
      <p class="dim">The auditID of any audit event (from the apiserver's log, Kibana or an alert): kontext opens the context the event belongs to, trigger or caused event alike. auditIDs are unique per cluster: name the cluster when several send the same one.</p>
      <ErrorBox error={error} />
    </section>
  );
}
