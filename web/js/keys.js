// Datastore keys: list (system and the user's own; secrets shown masked as the API gives them), set, delete.
import {api} from './api.js';
import {h, replace, errorBox, time} from './dom.js';

const shortScope = (scope) => (String(scope).endsWith('user') ? 'user' : 'system');

export function keysView(main) {
  document.title = 'Datastore · Squall';
  const message = h('div', {'aria-live': 'polite'});
  const tbody = h('tbody', {id: 'keys'});
  const name = h('input', {id: 'k-name', name: 'name', required: true, autocomplete: 'off'});
  const value = h('textarea', {id: 'k-value', name: 'value', rows: 2, class: 'mono', spellcheck: 'false'});
  const secret = h('input', {id: 'k-secret', name: 'secret', type: 'checkbox'});
  const scope = h('select', {id: 'k-scope', name: 'scope'},
    h('option', {value: 'system'}, 'system'), h('option', {value: 'user'}, 'user (mine)'));
  const ttl = h('input', {id: 'k-ttl', name: 'ttl', type: 'number', min: 1, step: 1});
  const form = h('form', {class: 'run', id: 'key-set', onsubmit: async (ev) => {
    ev.preventDefault();
    replace(message);
    const body = {name: name.value.trim(), value: value.value, secret: secret.checked, scope: scope.value};
    if (ttl.value) body.ttl = Number(ttl.value);
    try {
      await api(`/keys/${encodeURIComponent(body.name)}`, {method: 'PUT', body});
      value.value = '';
      await load();
    } catch (e) {
      replace(message, errorBox(e));
    }
  }},
  h('div', {class: 'field'}, h('label', {for: 'k-name'}, 'Name', h('span', {class: 'req'}, ' *')), name),
  h('div', {class: 'field'}, h('label', {for: 'k-value'}, 'Value'), value),
  h('div', {class: 'field check'}, h('label', {for: 'k-secret'}, 'Secret (stored encrypted, shown masked)'), secret),
  h('div', {class: 'field'}, h('label', {for: 'k-scope'}, 'Scope'), scope),
  h('div', {class: 'field'}, h('label', {for: 'k-ttl'}, 'Expires after (seconds)'), ttl,
    h('p', {class: 'help'}, 'Empty: never.')),
  h('button', {type: 'submit'}, 'Set'));

  replace(main, h('h1', {}, 'Datastore'), message,
    h('div', {class: 'scroll'}, h('table', {class: 'list'},
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Value'), h('th', {}, 'Scope'),
        h('th', {class: 'narrow-hide'}, 'Expires'), h('th', {}, ''))), tbody)),
    h('h2', {}, 'Set a key'), form);

  const row = (k) => h('tr', {'data-name': k.name, 'data-scope': shortScope(k.scope)},
    h('td', {class: 'mono'}, k.name),
    h('td', {class: 'mono'}, k.value, k.secret ? h('span', {class: 'muted'}, ' (secret)') : null),
    h('td', {}, shortScope(k.scope), k.user ? ` (${k.user})` : ''),
    h('td', {class: 'narrow-hide'}, k.expire_timestamp ? time(k.expire_timestamp) : ''),
    h('td', {}, h('button', {type: 'button', class: 'small', 'aria-label': `Delete ${k.name}`, onclick: async () => {
      if (!window.confirm(`Delete ${k.name}?`)) return;
      replace(message);
      try {
        await api(`/keys/${encodeURIComponent(k.name)}`, {method: 'DELETE', query: {scope: shortScope(k.scope)}});
        await load();
      } catch (e) {
        replace(message, errorBox(e));
      }
    }}, 'Delete')));

  async function load() {
    try {
      const {data} = await api('/keys', {query: {scope: 'all', limit: 1000}});
      replace(tbody, data.length ? data.map(row) : h('tr', {}, h('td', {colspan: 5}, 'No keys.')));
    } catch (e) {
      replace(message, errorBox(e));
    }
  }
  load();
}
