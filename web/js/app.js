// The web UI's entry point and router. Routes live in the URL's hash (#/executions, #/executions/ID, #/actions,
// #/actions/REF, #/packs/REF/config, #/inquiries, #/rules, #/rules/REF, #/traces, #/traces/ID, #/keys, #/apikeys,
// #/aliases), so the server serves one page for every path. Each view renders into <main> and returns a function
// that stops what it started (event streams, timers) when another view replaces it.
import {credentials, logout, setUnauthorizedHandler} from './api.js';
import {replace, h} from './dom.js';
import {loginView} from './login.js';
import {executionsView} from './executions.js';
import {executionView} from './execution.js';
import {catalogView, actionView, packConfigView} from './catalog.js';
import {inquiriesView} from './inquiries.js';
import {rulesView, ruleView, tracesView, traceView} from './traces.js';
import {keysView} from './keys.js';
import {apiKeysView} from './apikeys.js';
import {aliasesView} from './aliases.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let cleanup = null;

const routes = [
  [/^\/executions\/([^/]+)$/, (m, q) => executionView(main, decodeURIComponent(m[1]), q)],
  [/^\/executions$/, (m, q) => executionsView(main, q)],
  [/^\/actions\/([^/]+)$/, (m, q) => actionView(main, decodeURIComponent(m[1]), q)],
  [/^\/actions$/, (m, q) => catalogView(main, q)],
  [/^\/packs\/([^/]+)\/config$/, (m) => packConfigView(main, decodeURIComponent(m[1]))],
  [/^\/inquiries$/, () => inquiriesView(main)],
  [/^\/rules\/([^/]+)$/, (m) => ruleView(main, decodeURIComponent(m[1]))],
  [/^\/rules$/, () => rulesView(main)],
  [/^\/traces\/([^/]+)$/, (m) => traceView(main, decodeURIComponent(m[1]))],
  [/^\/traces$/, (m, q) => tracesView(main, q)],
  [/^\/keys$/, () => keysView(main)],
  [/^\/apikeys$/, () => apiKeysView(main)],
  [/^\/aliases$/, (m, q) => aliasesView(main, q)],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/executions';
  const [path, query = ''] = raw.split('?');
  return {path, query: Object.fromEntries(new URLSearchParams(query))};
}

function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const c = credentials();
  const {path, query} = parseHash();
  nav.hidden = !c;
  if (!c) {
    document.title = 'Log in · Squall';
    // Already asking (a hash change and a refused request can both get here): the form and what the user
    // typed into it stay.
    if (main.querySelector('#login-user')) return;
    loginView(main, {onLogin: () => {
      if (path === '/login') location.hash = '#/executions';
      else render();
    }});
    return;
  }
  if (path === '/login') {
    location.hash = '#/executions';
    return;
  }
  replace(document.getElementById('who'), c.user || '');
  for (const a of nav.querySelectorAll('[data-nav]')) {
    if (path.startsWith(`/${a.dataset.nav}`)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const [re, view] of routes) {
    const m = path.match(re);
    if (m) {
      cleanup = view(m, query) || null;
      return;
    }
  }
  replace(main, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, path), '.'));
}

// The skip link moves the focus to the content; followed as a link it would replace the route in the hash.
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
setUnauthorizedHandler(() => render());
document.getElementById('logout').addEventListener('click', async () => {
  await logout();
  // The hash change renders the login form; set already, nothing would.
  if (location.hash === '#/login') render();
  else location.hash = '#/login';
});
window.addEventListener('hashchange', render);
render();
// The page is usable from here on (the login form or the view is drawn, its handlers attached): the figure the
// browser test and docs/web.md give as "interactive".
performance.mark('squall-ready');
