// Action aliases (ChatOps): each with its action, its formats (what people type; a format's representations and
// display text), description and state, filtered as you type.
import {api} from './api.js';
import {h, replace, errorBox, link} from './dom.js';

function formats(list) {
  return h('ul', {class: 'formats mono'}, (Array.isArray(list) ? list : []).map((f) => {
    if (typeof f === 'string') return h('li', {}, f);
    const shown = f && f.display ? f.display : '';
    const reps = f && Array.isArray(f.representation) ? f.representation : [];
    return h('li', {}, shown || reps[0] || JSON.stringify(f),
      reps.length && (shown || reps.length > 1) ? h('ul', {}, reps.map((r) => h('li', {}, r))) : null);
  }));
}

export function aliasesView(main, query) {
  document.title = 'Action aliases · Squall';
  const search = h('input', {id: 'alias-search', type: 'search', value: query.q || '',
    placeholder: 'Filter by name, action or format', 'aria-label': 'Filter aliases'});
  const tbody = h('tbody', {id: 'aliases'}, h('tr', {}, h('td', {colspan: 4, class: 'muted'}, 'Loading…')));
  replace(main, h('h1', {}, 'Action aliases'), h('div', {class: 'filters'}, search),
    h('div', {class: 'scroll'}, h('table', {class: 'list'},
      h('thead', {}, h('tr', {}, h('th', {}, 'Alias'), h('th', {}, 'Formats'), h('th', {}, 'Action'),
        h('th', {}, 'Enabled'))), tbody)));
  let all = [];
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const hit = (a) => !q || [a.ref, a.action_ref, a.description, JSON.stringify(a.formats || [])]
      .some((t) => String(t || '').toLowerCase().includes(q));
    const shown = all.filter(hit);
    replace(tbody, shown.length ? shown.map((a) => h('tr', {'data-ref': a.ref},
      h('td', {}, h('strong', {}, a.ref), a.description ? h('div', {class: 'help'}, a.description) : null),
      h('td', {}, formats(a.formats)),
      h('td', {}, a.action_ref ? h('a', {href: link(`/actions/${encodeURIComponent(a.action_ref)}`)}, a.action_ref)
        : ''),
      h('td', {}, a.enabled === false ? 'no' : 'yes'))) :
      h('tr', {}, h('td', {colspan: 4}, all.length ? 'No alias matches.' : 'No action aliases.')));
  };
  search.addEventListener('input', draw);
  api('/actionalias', {query: {limit: 1000}})
    .then(({data}) => {
      all = data.sort((x, y) => String(x.ref).localeCompare(String(y.ref)));
      draw();
    })
    .catch((e) => replace(tbody, h('tr', {}, h('td', {colspan: 4}, errorBox(e)))));
}
