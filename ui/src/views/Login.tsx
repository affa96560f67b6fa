/** The token prompt: shown when /graphql answers 401. The token stays in this tab's sessionStorage. */
import { useState } from 'preact/hooks';
import { setToken } from '../api.ts';

export function Login({ message, onDone }: { message?: string; onDone: () => void }) {
  const [token, setValue] = useState('');
  return (
    <form class="login" onSubmit={(e) => { e.preventDefault(); if (token.trim()) { setToken(token.trim()); onDone(); } }}>
      <h2>Sign in</h2>
      <p>kontext needs a bearer token (one of the server's <code>--auth-tokens</code>). It is kept for this browser tab only.</p>
      {message ? <p class="error" role="alert">{message}</p> : null}
      <label>Token <input name="token" type="password" autocomplete="off" value={token} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} /></label>
      <button type="submit">Sign in</button>
    </form>
  );
}
