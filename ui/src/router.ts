/** Client-side routes (the server answers index.html for each, src/http/ui.ts). */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { view: 'contexts' }
  | { view: 'timeline' }
  | { view: 'context'; id: string }
  | { view: 'event'; auditID?: string; cluster?: string };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  if (parts[0] === 'timeline') return { view: 'timeline' };
  // ids are <cluster>/<auditID>: encoded as one segment by contextHref, also taken unencoded
  if (parts[0] === 'context' && parts[1]) return { view: 'context', id: parts.slice(1).join('/') };
  // /event/<auditID>, or /event/<cluster>/<auditID> (auditIDs are unique per cluster)
  if (parts[0] === 'event') return parts[2] ? { view: 'event', cluster: parts[1], auditID: parts[2] } : parts[1] ? { view: 'event', auditID: parts[1] } : { view: 'event' };
  return { view: 'contexts' };
}

export function contextHref(id: string): string { return `/context/${encodeURIComponent(id)}`; }

export function eventHref(auditID: string, cluster?: string): string {
  return cluster ? `/event/${encodeURIComponent(cluster)}/${encodeURIComponent(auditID)}` : `/event/${encodeURIComponent(auditID)}`;
}

export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, '', href); else history.pushState(null, '', href);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** current location, re-rendered on navigation */
export function useLocation(): { pathname: string; search: string } {
  const [loc, setLoc] = useState({ pathname: location.pathname, search: location.search });
  useEffect(() => {
    const on = () => setLoc({ pathname: location.pathname, search: location.search });
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return loc;
}

/** a click handler that navigates in the app (ctrl/cmd-click still opens a tab) */
export function onLink(e: MouseEvent): void {
  const a = (e.currentTarget as HTMLAnchorElement);
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? '/');
}
