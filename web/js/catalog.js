// The catalog: packs and their actions (install a pack, remove one), and each action's page with its run form.
import {api} from './api.js';
import {h, replace, errorBox, link} from './dom.js';
import {effectiveParameters, runForm} from './form.js';

export function catalogView(main, query) {
  document.title = 'Actions · Squall';
  const search = h('input', {id: 'catalog-search', type: 'search', value: query.q || '',
    placeholder: 'Filter by name or description', 'aria-label': 'Filter actions'});
  const list = h('div', {id: 'catalog'}, h('p', {class: 'muted'}, 'Loading…'));
  const url = h('input', {id: 'pack-url', name: 'url', type: 'text', required: true, autocomplete: 'off',
    placeholder: 'https://… or file:///… (a git repository), or a pack name'});
  const installMessage = h('div', {'aria-live': 'polite'});
  const install = h('details', {class: 'install'}, h('summary', {}, 'Install a pack'),
    h('form', {class: 'filters', id: 'pack-install', onsubmit: async (ev) => {
      ev.preventDefault();
      replace(installMessage);
      try {
        // packs.install runs as an execution: its page shows the progress, and the loader's errors in its result.
        const {data} = await api('/packs/install', {method: 'POST', body: {packs: [url.value.trim()]}});
        location.hash = link(`/executions/${encodeURIComponent(data.execution_id)}`);
      } catch (e) {
        replace(installMessage, errorBox(e));
      }
    }}, h('label', {for: 'pack-url'}, 'Git URL'), url, h('button', {type: 'submit'}, 'Install')), installMessage);
  const message = h('div', {'aria-live': 'polite'});
  replace(main, h('h1', {}, 'Actions'), message, install, search, list);

  let packs = [];
  let actions = [];
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const hit = (a) => !q || a.ref.toLowerCase().includes(q) || (a.description || '').toLowerCase().includes(q);
    const sections = packs.map((p) => {
      const own = actions.filter((a) => a.pack === p.ref && hit(a));
      if (own.length === 0 && q) return null;  // a pack without actions is listed (to remove it) when not searching
      return h('section', {class: 'pack', 'data-pack': p.ref},
        h('h2', {}, p.ref, p.version ? h('span', {class: 'muted'}, ` ${p.version}`) : null,
          p.config_schema && Object.keys(p.config_schema).length ? [' ', h('a', {class: 'small-link',
            href: link(`/packs/${encodeURIComponent(p.ref)}/config`)}, 'configure')] : null,
          // Packs that come with Squall cannot be removed (the server refuses): no button for them.
          p.bundled ? null : [' ', h('button', {type: 'button', class: 'small danger remove-pack',
            onclick: () => remove(p.ref)}, 'Remove')]),
        p.description ? h('p', {class: 'muted'}, p.description) : null,
        own.length === 0 ? h('p', {class: 'muted'}, 'No actions.') : null,
        h('ul', {class: 'actions'}, own.map((a) => h('li', {},
          h('a', {href: link(`/actions/${encodeURIComponent(a.ref)}`)}, a.name || a.ref),
          a.enabled === false ? h('span', {class: 'muted'}, ' (disabled)') : null,
          a.description ? h('span', {class: 'desc'}, a.description) : null))));
    }).filter(Boolean);
    replace(list, sections.length ? sections : h('p', {class: 'muted'}, 'No action matches.'));
  };
  search.addEventListener('input', draw);
  // packs.uninstall runs as an execution (its rules, sensors and actions go with the files); its page shows it.
  const remove = async (ref) => {
    if (!window.confirm(`Remove the pack ${ref}? Its actions, rules, sensors and files are deleted.`)) return;
    replace(message);
    try {
      const {data} = await api('/packs/uninstall', {method: 'POST', body: {packs: [ref]}});
      location.hash = link(`/executions/${encodeURIComponent(data.execution_id)}`);
    } catch (e) {
      replace(message, errorBox(new Error(`${ref}: ${e.message}`)));
    }
  };

  Promise.all([
    api('/packs', {query: {limit: 1000}}),
    api('/actions', {query: {limit: 10000, include_attributes: 'ref,name,pack,description,enabled'}}),
  ]).then(([p, a]) => {
    packs = p.data.map((x) => ({...x, ref: x.ref || x.name})).sort((x, y) => x.ref.localeCompare(y.ref));
    actions = a.data.sort((x, y) => x.ref.localeCompare(y.ref));
    // Actions of a pack the list does not show still appear, under their pack's name.
    for (const ref of new Set(actions.map((x) => x.pack))) {
      if (!packs.some((x) => x.ref === ref)) packs.push({ref});
    }
    draw();
  }).catch((e) => replace(list, errorBox(e)));
}

export function actionView(main, ref) {
  document.title = `${ref} · Squall`;
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  replace(main, h('p', {}, h('a', {href: '#/actions'}, '← Actions')), h('h1', {}, ref), body);

  api(`/actions/${encodeURIComponent(ref)}`).then(async ({data: action}) => {
    let runner = {};
    try {
      runner = (await api(`/runnertypes/${encodeURIComponent(action.runner_type)}`)).data;
    } catch {
      // without the runner's parameters the form offers the action's own
    }
    const params = effectiveParameters(runner.runner_parameters, action.parameters);
    const form = runForm(params, async (values) => {
      const {data} = await api('/executions', {method: 'POST', body: {action: ref, parameters: values}});
      location.hash = link(`/executions/${encodeURIComponent(data.id)}`);
    });
    replace(body,
      action.description ? h('p', {class: 'lead'}, action.description) : null,
      h('p', {class: 'muted'}, `Runner ${action.runner_type || '?'}`,
        action.enabled === false ? ' · disabled' : '', ' · ',
        h('a', {href: link('/executions', {action: ref})}, 'its executions')),
      h('h2', {}, 'Run'), form);
    const first = form.querySelector('input, select, textarea');
    if (first) first.focus();
  }).catch((e) => replace(body, errorBox(e)));
}

/** A pack's config: a form from its config schema, filled with the current values (secrets stay masked: the
 * server keeps a secret that comes back masked), saved with PUT /configs/{pack}. */
export function packConfigView(main, ref) {
  document.title = `${ref} config · Squall`;
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  const saved = h('div', {'aria-live': 'polite'});
  replace(main, h('p', {}, h('a', {href: '#/actions'}, '← Actions')), h('h1', {}, `${ref} config`), saved, body);
  const draw = (schema, values) => {
    const params = Object.entries(schema).map(([name, s]) =>
      [name, name in values ? {...s, default: values[name]} : s]);
    replace(body, runForm(params, async (given) => {
      replace(saved);
      const {data} = await api(`/configs/${encodeURIComponent(ref)}`, {method: 'PUT', body: given});
      draw(schema, data.values || {});
      replace(saved, h('p', {role: 'status'}, 'Saved.'));
    }, {label: 'Save', id: 'config-form'}));
  };
  Promise.all([
    api(`/config_schemas/${encodeURIComponent(ref)}`),
    api(`/configs/${encodeURIComponent(ref)}`)
      .catch((e) => (e.status === 404 ? {data: {values: {}}} : Promise.reject(e))),  // no config yet
  ]).then(([schema, config]) => draw(schema.data.attributes || {}, config.data.values || {}))
    .catch((e) => replace(body, errorBox(e)));
}
