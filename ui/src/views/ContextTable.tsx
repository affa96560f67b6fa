/** The list of contexts: readable action, who, when, size, outcome, flags. */
import { Link, OutcomeBadge, FlagBadges } from './common.tsx';
import { contextHref } from '../router.ts';
import { formatDuration, formatTime } from '../lib/format.ts';

export interface ContextRow {
  id: string; action: string; label: string; outcome: string; flags: string[]; start: string; end: string;
  durationMs: number; eventCount: number; state: string; namespaces: string[];
  trigger: { user: string; client: string; code: number };
}

export function ContextTable({ rows, fresh }: { rows: readonly ContextRow[]; fresh?: ReadonlySet<string> }) {
  if (!rows.length) return <p class="empty">No contexts match.</p>;
  return (
    <table class="contexts">
      <thead><tr><th>Start (UTC)</th><th>Action</th><th>User</th><th>Client</th><th class="num">Events</th><th class="num">Duration</th><th>Outcome</th><th>Flags</th></tr></thead>
      <tbody>
        {rows.map((c) => (
          <tr key={c.id} data-id={c.id} class={fresh?.has(c.id) ? 'fresh' : undefined}>
            <td class="time">{formatTime(c.start)}</td>
            <td><Link href={contextHref(c.id)}>{c.action}</Link></td>
            <td>{c.trigger.user}</td>
            <td class="dim">{c.trigger.client}</td>
            <td class="num">{c.eventCount}</td>
            <td class="num">{formatDuration(c.durationMs)}</td>
            <td><OutcomeBadge outcome={c.outcome} /></td>
            <td><FlagBadges flags={c.flags} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
