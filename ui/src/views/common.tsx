/** Small pieces the views share. */
import type { ComponentChildren } from 'preact';
import { onLink } from '../router.ts';
import { flagLabel, outcomeLabel, OUTCOME_COLOR, FLAGGED_COLOR } from '../lib/format.ts';

export function Link(props: { href: string; children: ComponentChildren; class?: string; title?: string }) {
  return <a href={props.href} class={props.class} title={props.title} onClick={onLink}>{props.children}</a>;
}

export function OutcomeBadge({ outcome }: { outcome: string }) {
  return <span class="badge" data-outcome={outcome} style={{ background: OUTCOME_COLOR[outcome] ?? '#757575' }}>{outcomeLabel(outcome)}</span>;
}

export function FlagBadges({ flags }: { flags: readonly string[] }) {
  return <>{flags.map((f) => <span key={f} class="badge flag" style={{ background: FLAGGED_COLOR }}>{flagLabel(f)}</span>)}</>;
}

export function ErrorBox({ error }: { error: Error | string | null | undefined }) {
  if (!error) return null;
  return <div class="error" role="alert">{typeof error === 'string' ? error : error.message}</div>;
}
