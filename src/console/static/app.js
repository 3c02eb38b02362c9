// Nexus console: the shell (header, session, login) and the client-side router.
import { html, render, useEffect, useState } from '/vendor/htm-preact.js';
import { ApiError, errorText, get, onAnsweredBy, onUnauthorized, post, setCsrf } from './api.js';
import { Link, onRoute } from './ui.js';
import { Overview } from './overview.js';
import { Agents, AgentDetail } from './agents.js';
import { Commands } from './commands.js';
import { CommandDetail } from './command.js';
import { DeadLetters } from './dlq.js';
import { Events } from './events.js';

const NAV = [
  ['/', 'Overview', 'overview'],
  ['/agents', 'Agents', 'agents'],
  ['/commands', 'Commands', 'commands'],
  ['/dlq', 'Dead letters', 'dlq'],
  ['/events', 'Events', 'events'],
];

function route(path) {
  let m;
  if (path === '/' || path === '') return { key: 'overview', view: (s) => html`<${Overview} session=${s} />` };
  if (path === '/agents') return { key: 'agents', view: (s) => html`<${Agents} session=${s} />` };
  if ((m = path.match(/^\/agents\/(.+)$/))) {
    const id = decodeURIComponent(m[1]);
    return { key: 'agents', view: (s) => html`<${AgentDetail} id=${id} session=${s} />` };
  }
  if (path === '/commands') return { key: 'commands', view: (s) => html`<${Commands} session=${s} />` };
  if ((m = path.match(/^\/commands\/(.+)$/))) {
    const id = decodeURIComponent(m[1]);
    return { key: 'commands', view: (s) => html`<${CommandDetail} key=${id} id=${id} session=${s} />` };
  }
  if (path === '/dlq') return { key: 'dlq', view: (s) => html`<${DeadLetters} session=${s} />` };
  if (path === '/events') return { key: 'events', view: (s) => html`<${Events} session=${s} />` };
  return { key: '', view: () => html`<section><h1>Not found</h1><p>No page at ${path}. <${Link} href="/">Overview</${Link}></p></section>` };
}

function Login({ onDone }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post('/api/login', { token: token.trim() });
      setToken('');
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="login" data-testid="login">
    <h1>Log in</h1>
    <p>This cluster uses tokens (AUTH_TOKENS_FILE). Paste a viewer or operator token; it is kept in an HttpOnly cookie for this site only.</p>
    <form onSubmit=${submit}>
      <label class="field"><span>Token</span><input type="password" autocomplete="current-password" value=${token} onInput=${(e) => setToken(e.target.value)} data-testid="login-token" /></label>
      <button type="submit" class="primary" disabled=${busy || !token.trim()} data-testid="login-submit">Log in</button>
    </form>
    ${error && html`<div class="notice error" role="alert" data-testid="error">${error.status === 401 || error.status === 403 ? 'that token is not accepted' : errorText(error)}</div>`}
  </section>`;
}

function App() {
  const [path, setPath] = useState(location.pathname);
  const [session, setSession] = useState(null);
  const [sessionError, setSessionError] = useState(null);
  const [replica, setReplica] = useState('');
  const loadSession = async () => {
    try {
      const s = await get('/api/session');
      setCsrf(s.csrf);
      setSession(s);
      setSessionError(null);
    } catch (err) {
      setSessionError(err);
      setTimeout(loadSession, 3000);
    }
  };
  useEffect(() => {
    loadSession();
    const offRoute = onRoute(() => setPath(location.pathname));
    const offReplica = onAnsweredBy(setReplica);
    const offUnauthorized = onUnauthorized(() => loadSession());
    return () => {
      offUnauthorized();
      offRoute();
      offReplica();
    };
  }, []);
  const logout = async () => {
    try {
      await post('/api/logout', {});
    } finally {
      loadSession();
    }
  };
  const r = route(path);
  useEffect(() => {
    const item = NAV.find((n) => n[2] === r.key);
    document.title = `${item ? item[1] : 'Nexus'} · Nexus console`;
  }, [r.key]);
  const loggedIn = session && session.role;
  return html`
    <header class="top">
      <span class="brand">Nexus</span>
      <nav>
        ${NAV.map(([href, label, key]) => html`<${Link} href=${href} class=${r.key === key ? 'active' : ''} data-testid=${`nav-${key}`}>${label}</${Link}>`)}
      </nav>
      <span class="who">
        ${replica && html`<span class="replica" data-testid="answered-by" title="the replica that answered the last request">replica ${replica}</span>`}
        ${session && session.role && html`<span class="role" data-testid="role">${session.name ? `${session.name} · ` : ''}${session.role}${session.mode === 'open' ? ' (open mode)' : ''}</span>`}
        ${session && session.mode === 'tokens' && session.role && html`<button type="button" class="link" onClick=${logout} data-testid="logout">Log out</button>`}
      </span>
    </header>
    <main>
      ${sessionError && html`<div class="notice warn" role="alert" data-testid="error">${errorText(sessionError)}</div>`}
      ${!session ? (sessionError ? null : html`<p class="muted">Loading…</p>`) : !loggedIn ? html`<${Login} onDone=${loadSession} />` : r.view(session)}
    </main>`;
}

export { ApiError };
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
