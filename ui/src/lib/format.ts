/** Display helpers shared by the views: outcome and flag names, colours, times. Pure. */
export const OUTCOME_COLOR: Record<string, string> = {
  SUCCESS: '#2e7d32',
  PARTIAL: '#ef6c00',
  FAILURE: '#c62828',
  FORBIDDEN: '#6a1b9a',
};
/** colour of a flagged context on the timeline, whatever its outcome */
export const FLAGGED_COLOR = '#d81b60';

export function outcomeLabel(o: string): string { return o.toLowerCase(); }

/** `SECRET_READ` → `secret read` */
export function flagLabel(f: string): string { return f.toLowerCase().replace(/_/g, ' '); }

/** colour of a response code: 2xx green, 403 purple, other 4xx/5xx red, else grey */
export function codeColor(code: number): string {
  if (code >= 200 && code < 300) return '#2e7d32';
  if (code === 403) return '#6a1b9a';
  if (code >= 400) return '#c62828';
  return '#757575';
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}

/** `2026-12-01T17:03:04.123Z` → `2026-12-01 17:03:04.123` (UTC, as stored) */
export function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/Z$/, '');
}

/** offset from a start, e.g. `+1.25 s` */
export function formatOffset(ms: number): string {
  return `+${formatDuration(ms)}`;
}

/** `apps/deployments` + `scale` → `apps/deployments/scale` */
export function resourcePath(resource: string, subresource?: string | null): string {
  return subresource ? `${resource}/${subresource}` : resource;
}

/** `shop/web`, `web`, or '' */
export function objectPath(namespace?: string | null, name?: string | null): string {
  if (!name) return namespace ? `${namespace}/*` : '';
  return namespace ? `${namespace}/${name}` : name;
}

/** axis label of a time (UTC), as precise as the visible span needs */
export function tickLabel(t: Date, spanMs: number): string {
  const iso = t.toISOString();
  if (spanMs > 2 * 86_400_000) return iso.slice(5, 16).replace('T', ' ');
  if (spanMs > 10 * 60_000) return iso.slice(11, 16);
  if (spanMs > 10_000) return iso.slice(11, 19);
  return iso.slice(11, 23);
}
