/** kontext's web UI: navigation, the token prompt, and the four views. */
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { AuthRequired, authNeeded, getToken, setToken } from './api.ts';
import { parseRoute, useLocation } from './router.ts';
import { Contexts } from './views/Contexts.tsx';
import { Timeline } from './views/Timeline.tsx';
import { ContextView } from './views/Context.tsx';
import { EventLookup } from './views/EventLookup.tsx';
import { Login } from './views/Login.tsx';
import { Link } from './views/common.tsx';
import './style.css';

function App() {
  const loc = useLocation();
  const route = parseRoute(loc.pathname);
  // undefined: probing; string: the prompt's message
  const [auth, setAuth] = useState<'ok' | 'probing' | { message?: string }>('probing');
  const [epoch, setEpoch] = useState(0);

  useEffect(() => {
    authNeeded().then((need) => setAuth(need ? { message: getToken() ? 'That token was not accepted.' : undefined } : 'ok'))
      .catch(() => setAuth('ok')); // the views show the error
  }, [epoch]);

  /** views hand errors here first: a 401 shows the prompt */
  const onAuth = useCallback((e: unknown) => {
    if (!(e instanceof AuthRequired)) return false;
    setAuth({ message: getToken() ? 'The token was not accepted.' : undefined });
    return true;
  }, []);

  const nav = (href: string, label: string, active: boolean) => <Link href={href} class={active ? 'active' : undefined}>{label}</Link>;
  return (
    <>
      <header>
        <h1><Link href="/">kontext</Link></h1>
        <nav>
          {nav('/contexts', 'Contexts', route.view === 'contexts')}
          {nav('/timeline', 'Timeline', route.view === 'timeline')}
          {nav('/event', 'Event lookup', route.view === 'event')}
        </nav>
        {getToken() && auth === 'ok' ? <button class="signout" onClick={() => { setToken(null); setEpoch((n) => n + 1); }}>Sign out</button> : null}
      </header>
      <main key={epoch}>
        {auth === 'probing' ? <p class="dim">connecting…</p>
          : auth !== 'ok' ? <Login message={auth.message} onDone={() => { setAuth('probing'); setEpoch((n) => n + 1); }} />
          : route.view === 'timeline' ? <Timeline search={loc.search} onAuth={onAuth} />
          : route.view === 'context' ? <ContextView id={route.id} onAuth={onAuth} />
          : route.view === 'event' ? <EventLookup auditID={route.auditID} cluster={route.cluster} onAuth={onAuth} />
          : <Contexts search={loc.search} onAuth={onAuth} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
