/** Event lookup: an auditID (pasted, or in the URL /event/<auditID>) → its context. */
import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api.ts';
import { CONTEXT_OF_EVENT } from '../lib/queries.ts';
import { contextHref, navigate } from '../router.ts';
import { ErrorBox } from './common.tsx';

export function EventLookup({ auditID, onAuth }: { auditID?: string; onAuth: (e: unknown) => boolean }) {
  const [value, setValue] = useState(auditID ?? '');
  const [error, setError] = useState<string | Error | null>(null);
  const [busy, setBusy] = useState(false);

  const lookup = (id: string) => {
    const a = id.trim();
    if (!a) return;
    setBusy(true); setError(null);
    gql(CONTEXT_OF_EVENT, { auditID: a }).then((d) => {
      if (d.contextOfEvent) navigate(contextHref(d.contextOfEvent.id), true);
      else setError(`No stored context holds the event ${a}.`);
    }).catch((e) => { if (!onAuth(e)) setError(e); }).finally(() => setBusy(false));
  };
  useEffect(() => { if (auditID) lookup(auditID); }, [auditID]);

  return (
    <section>
      <form class="lookup" onSubmit={(e) => { e.preventDefault(); const a = value.trim(); if (a === auditID) lookup(a); else if (a) navigate(`/event/${encodeURIComponent(a)}`); }}>
        <label>Audit ID <input name="auditID" value={value} placeholder="paste an auditID" size={48} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} /></label>
        <button type="submit" disabled={busy}>Find its context</button>
      </form>
      <p class="dim">The auditID of any audit event (from the apiserver's log, Kibana or an alert): kontext opens the context the event belongs to, trigger or caused event alike.</p>
      <ErrorBox error={error} />
    </section>
  );
}
