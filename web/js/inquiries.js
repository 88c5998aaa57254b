// Pending inquiries (executions of the inquirer runner waiting for an answer), each with a form generated from its
// response schema; answering is PUT /inquiries/{id} {response}. The list follows the event stream: a new inquiry
// appears, an answered or expired one goes.
import {api} from './api.js';
import {follow} from './stream.js';
import {h, replace, time, errorBox, link} from './dom.js';
import {runForm, schemaParameters} from './form.js';

export function inquiriesView(main) {
  document.title = 'Inquiries · Squall';
  const list = h('div', {id: 'inquiries'}, h('p', {class: 'muted'}, 'Loading…'));
  replace(main, h('h1', {}, 'Inquiries'), list);
  const cards = new Map();  // id → card

  function card(q) {
    const form = runForm(schemaParameters(q.schema), async (response) => {
      await api(`/inquiries/${encodeURIComponent(q.id)}`, {method: 'PUT', body: {response}});
      replace(el, h('p', {role: 'status'}, 'Answered: ',
        h('a', {href: link(`/executions/${encodeURIComponent(q.id)}`)}, q.id)));
    }, {label: 'Respond', id: `inquiry-${q.id}`, prefix: `q${q.id}`});
    const el = h('section', {class: 'card', 'data-id': q.id},
      h('h2', {}, h('a', {href: link(`/executions/${encodeURIComponent(q.id)}`)}, q.id)),
      h('p', {class: 'muted'}, 'Asked ', time(q.start_timestamp),
        q.parent ? [' by workflow ', h('a', {href: link(`/executions/${encodeURIComponent(q.parent)}`)}, q.parent)]
          : null,
        q.route ? ` · route ${q.route}` : null,
        q.users && q.users.length ? ` · for ${q.users.join(', ')}` : null),
      form);
    return el;
  }

  async function load() {
    try {
      const {data} = await api('/inquiries', {query: {limit: 100}});
      const ids = new Set(data.map((q) => q.id));
      for (const [id, el] of cards) {
        if (!ids.has(id) && el.querySelector('form')) {
          el.remove();
          cards.delete(id);
        }
      }
      for (const q of data) if (!cards.has(q.id)) cards.set(q.id, card(q));
      replace(list, cards.size ? [...cards.values()] : h('p', {class: 'muted'}, 'No inquiry is waiting.'));
    } catch (e) {
      replace(list, errorBox(e));
    }
  }

  let timer = 0;
  let reconnected = false;
  const stop = follow({events: 'st2.execution__update'}, (name, e) => {
    const inquiry = e.runner && e.runner.name === 'inquirer';
    if ((inquiry || cards.has(e.id)) && !timer) timer = setTimeout(() => { timer = 0; load(); }, 100);
  }, (state) => {
    // What changed while the stream was down is read again.
    if (state === 'reconnecting') reconnected = true;
    if (state === 'live' && reconnected) load();
  });
  load();
  return () => {
    stop();
    clearTimeout(timer);
  };
}
