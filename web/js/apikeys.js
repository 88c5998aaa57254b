// API keys (admins only, as the API's /apikeys): the list with user, creation time, metadata and state; create one
// (the key is shown once, right after, and never again: the server keeps only its hash); enable, disable, delete
// (confirmed first). Non-admins get the server's 403 as the page's message.
import {api} from './api.js';
import {h, replace, errorBox, time} from './dom.js';

export function apiKeysView(main) {
  document.title = 'API keys · Squall';
  const message = h('div', {'aria-live': 'polite'});
  const created = h('div', {'aria-live': 'polite'});
  const tbody = h('tbody', {id: 'apikeys'});
  const user = h('input', {id: 'ak-user', name: 'user', autocomplete: 'off', placeholder: 'you, when empty'});
  const meta = h('textarea', {id: 'ak-metadata', name: 'metadata', rows: 2, class: 'mono', spellcheck: 'false',
    placeholder: '{"used_by": "ci"}', 'aria-describedby': 'ak-metadata-help'});
  const metaError = h('p', {class: 'field-error', id: 'ak-metadata-error', 'aria-live': 'polite'});
  const form = h('form', {class: 'run', id: 'apikey-create', onsubmit: async (ev) => {
    ev.preventDefault();
    replace(message);
    replace(created);
    replace(metaError);
    const body = {};
    if (user.value.trim()) body.user = user.value.trim();
    if (meta.value.trim()) {
      try {
        body.metadata = JSON.parse(meta.value);
      } catch (e) {
        replace(metaError, `metadata: not JSON (${e.message})`);
        return;
      }
      if (!body.metadata || typeof body.metadata !== 'object' || Array.isArray(body.metadata)) {
        replace(metaError, 'metadata: must be a JSON object');
        return;
      }
    }
    try {
      const {data} = await api('/apikeys', {method: 'POST', body});
      const shown = h('input', {id: 'apikey-new', type: 'text', readonly: true, value: data.key || '',
        'aria-label': 'The new API key', spellcheck: 'false', class: 'mono'});
      replace(created, h('div', {class: 'secret-once', role: 'status'},
        h('p', {}, h('strong', {}, 'The new key for ', data.user || '', ': copy it now, it is not shown again.')),
        shown));
      shown.focus();
      shown.select();
      user.value = '';
      meta.value = '';
      await load();
    } catch (e) {
      replace(message, errorBox(e));
    }
  }},
  h('div', {class: 'field'}, h('label', {for: 'ak-user'}, 'User'), user),
  h('div', {class: 'field'}, h('label', {for: 'ak-metadata'}, 'Metadata (JSON object)'), meta,
    h('p', {class: 'help', id: 'ak-metadata-help'}, 'Optional, e.g. what uses the key.'), metaError),
  h('button', {type: 'submit'}, 'Create a key'));

  replace(main, h('h1', {}, 'API keys'), message, created,
    h('div', {class: 'scroll'}, h('table', {class: 'list'},
      h('thead', {}, h('tr', {}, h('th', {}, 'User'), h('th', {}, 'Created'), h('th', {class: 'narrow-hide'}, 'ID'),
        h('th', {class: 'narrow-hide'}, 'Metadata'), h('th', {}, 'Enabled'), h('th', {}, ''))),
      tbody)),
    h('h2', {}, 'Create a key'), form);

  const row = (k) => {
    const toggle = h('button', {type: 'button', class: 'small', 'aria-pressed': k.enabled ? 'true' : 'false',
      onclick: async () => {
        replace(message);
        toggle.disabled = true;
        try {
          const {data} = await api(`/apikeys/${encodeURIComponent(k.id)}`, {method: 'PUT',
            body: {enabled: !k.enabled}});
          tr.replaceWith(row(data));
        } catch (e) {
          replace(message, errorBox(e));
          toggle.disabled = false;
        }
      }}, k.enabled ? 'Disable' : 'Enable');
    const remove = h('button', {type: 'button', class: 'small danger', onclick: async () => {
      if (!window.confirm(`Delete the API key ${k.id} of ${k.user}? Whatever uses it loses access.`)) return;
      replace(message);
      try {
        await api(`/apikeys/${encodeURIComponent(k.id)}`, {method: 'DELETE'});
        tr.remove();
      } catch (e) {
        replace(message, errorBox(e));
      }
    }}, 'Delete');
    const metadata = k.metadata && Object.keys(k.metadata).length ? JSON.stringify(k.metadata) : '';
    const tr = h('tr', {'data-id': k.id, 'data-enabled': k.enabled ? 'true' : 'false'},
      h('td', {}, k.user || ''), h('td', {}, time(k.created_at)), h('td', {class: 'mono narrow-hide'}, k.id),
      h('td', {class: 'mono narrow-hide'}, metadata),
      h('td', {}, h('span', {class: 'state'}, k.enabled ? 'yes ' : 'no '), toggle), h('td', {}, remove));
    return tr;
  };
  const load = () => api('/apikeys', {query: {limit: 1000}})
    .then(({data}) => replace(tbody, data.length ? data.map(row) :
      h('tr', {}, h('td', {colspan: 6}, 'No API keys.'))))
    .catch((e) => replace(tbody, h('tr', {}, h('td', {colspan: 6}, errorBox(e)))));
  load();
}
