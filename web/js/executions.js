// Execution history: a page of GET /executions (filters by action, status, rule and trigger type; paging), kept
// live from the event stream: a new execution appears at the top of the first page, a changed one is updated in
// place. Updates are applied in batches every 50 ms, however many arrive (a timer, not an animation frame: frames
// stop in a hidden tab, timers only slow down).
import {api} from './api.js';
import {follow} from './stream.js';
import {h, replace, badge, time, duration, elapsed, errorBox, link, STATUSES} from './dom.js';

const PAGE = 50;

function matches(e, filter) {
  return (!filter.action || (e.action && e.action.ref === filter.action)) &&
    (!filter.status || e.status === filter.status) &&
    (!filter.rule || (e.rule && e.rule.ref === filter.rule)) &&
    (!filter.trigger_type || (e.trigger_instance && e.trigger_instance.trigger === filter.trigger_type));
}

function row(e) {
  const ctx = e.context || {};
  const ref = e.action && e.action.ref ? e.action.ref : '?';
  const task = ctx.orquesta && ctx.orquesta.task_name;
  return h('tr', {'data-id': e.id, 'data-status': e.status},
    h('td', {}, badge(e.status)),
    h('td', {}, h('a', {href: link(`/executions/${encodeURIComponent(e.id)}`)}, ref),
      task ? h('span', {class: 'muted'}, ` (task ${task})`) : null),
    h('td', {class: 'mono narrow-hide'}, e.id),
    h('td', {}, time(e.start_timestamp)),
    h('td', {class: 'num'}, duration(elapsed(e))),
    h('td', {class: 'narrow-hide'}, ctx.user || ''),
    h('td', {class: 'narrow-hide'}, e.rule && e.rule.ref ? e.rule.ref : (e.parent ? 'workflow task' : 'manual')));
}

export function executionsView(main, query) {
  const filter = {action: query.action || '', status: query.status || '', rule: query.rule || '',
    trigger_type: query.trigger_type || ''};
  const offset = Math.max(0, Number(query.offset) || 0);
  document.title = 'Executions · Squall';

  const actionInput = h('input', {id: 'f-action', name: 'action', value: filter.action, list: 'action-refs',
    placeholder: 'pack.action'});
  const statusSelect = h('select', {id: 'f-status', name: 'status'},
    h('option', {value: ''}, 'any'),
    STATUSES.map((s) => h('option', {value: s, selected: s === filter.status}, s)));
  const refs = h('datalist', {id: 'action-refs'});
  const ruleInput = h('input', {id: 'f-rule', name: 'rule', value: filter.rule, list: 'rule-refs',
    placeholder: 'pack.rule'});
  const ruleRefs = h('datalist', {id: 'rule-refs'});
  const triggerInput = h('input', {id: 'f-trigger-type', name: 'trigger_type', value: filter.trigger_type,
    list: 'trigger-types', placeholder: 'core.st2.webhook'});
  const triggerTypes = h('datalist', {id: 'trigger-types'});
  const form = h('form', {class: 'filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = link('/executions', {action: actionInput.value.trim(), status: statusSelect.value,
      rule: ruleInput.value.trim(), trigger_type: triggerInput.value.trim()});
  }},
  // Each label stays with its field when the row wraps (a phone's width: one per line).
  h('span', {class: 'pair'}, h('label', {for: 'f-action'}, 'Action'), actionInput, refs),
  h('span', {class: 'pair'}, h('label', {for: 'f-status'}, 'Status'), statusSelect),
  h('span', {class: 'pair'}, h('label', {for: 'f-rule'}, 'Rule'), ruleInput, ruleRefs),
  h('span', {class: 'pair'}, h('label', {for: 'f-trigger-type'}, 'Trigger'), triggerInput, triggerTypes),
  h('button', {type: 'submit'}, 'Filter'));

  const live = h('span', {class: 'live', 'aria-live': 'polite'}, 'connecting…');
  const tbody = h('tbody', {id: 'executions'});
  const counter = h('span', {class: 'muted'});
  const pager = h('nav', {class: 'pager', 'aria-label': 'Pages'});
  const message = h('div');
  replace(main,
    h('div', {class: 'title'}, h('h1', {}, 'Executions'), live),
    form, message,
    h('div', {class: 'scroll'}, h('table', {class: 'list history'},
      h('thead', {}, h('tr', {},
        h('th', {}, 'Status'), h('th', {}, 'Action'), h('th', {class: 'narrow-hide'}, 'ID'),
        h('th', {}, 'Started'), h('th', {}, 'Took'), h('th', {class: 'narrow-hide'}, 'User'),
        h('th', {class: 'narrow-hide'}, 'Cause'))),
      tbody)),
    h('div', {class: 'pagerow'}, counter, pager));

  let total = 0;
  const rows = new Map();  // id → <tr>
  const showCount = () => {
    replace(counter, total === 0 ? 'No executions' :
      `${offset + 1}–${offset + rows.size} of ${total}`);
    replace(pager,
      offset > 0 ? h('a', {href: link('/executions', {...filter, offset: Math.max(0, offset - PAGE)})}, '← Newer')
        : null,
      offset + PAGE < total ? h('a', {href: link('/executions', {...filter, offset: offset + PAGE})}, 'Older →')
        : null);
  };

  // Stream events wait here until the next batch; only the last state of each execution is drawn.
  const pending = new Map();
  let timer = 0;
  const flush = () => {
    timer = 0;
    for (const [id, {e, created}] of pending) {
      const old = rows.get(id);
      if (old) {
        const tr = row(e);
        // The keyboard's place stays: a focused link in a redrawn row is focused again in the new one.
        const focused = old.contains(document.activeElement);
        old.replaceWith(tr);
        rows.set(id, tr);
        if (focused) tr.querySelector('a').focus();
      } else if (offset === 0 && matches(e, filter) && (created || filter.status)) {
        // New, or (with a status filter) newly in that status; an older execution changing is not moved up.
        const tr = row(e);
        tr.classList.add('fresh');
        tbody.prepend(tr);
        rows.set(id, tr);
        total += 1;
        while (rows.size > PAGE) {
          const last = tbody.lastElementChild;
          rows.delete(last.dataset.id);
          last.remove();
        }
      }
    }
    pending.clear();
    showCount();
  };
  const stop = follow(
    {events: 'st2.execution__create,st2.execution__update', action_refs: filter.action},
    (name, e) => {
      if (!e || !e.id) return;
      const created = name === 'st2.execution__create';
      const prior = pending.get(e.id);
      pending.set(e.id, {e, created: created || (prior && prior.created)});
      if (!timer) timer = setTimeout(flush, 50);
    },
    (state) => {
      replace(live, state === 'live' ? '● live' : 'reconnecting…');
      if (state === 'reconnecting') reconnected = true;
      if (state === 'live' && reconnected) catchUp();
    });

  // After a reconnection, what changed while the stream was down comes from a read of the page, applied as
  // events (newest last, so that it ends on top).
  let reconnected = false;
  function catchUp() {
    api('/executions', {query: {limit: PAGE, offset, ...filter}})
      .then(({data}) => {
        for (const e of [...data].reverse()) {
          if (!pending.has(e.id)) pending.set(e.id, {e, created: !rows.has(e.id)});
        }
        if (!timer) timer = setTimeout(flush, 50);
      })
      .catch(() => {});
  }

  api('/executions', {query: {limit: PAGE, offset, ...filter}})
    .then(({data, total: t}) => {
      total = t || 0;
      for (const e of data) {
        if (rows.has(e.id)) continue;  // already drawn from the stream
        const tr = row(e);
        tbody.append(tr);
        rows.set(e.id, tr);
      }
      showCount();
    })
    .catch((e) => replace(message, errorBox(e)));
  api('/actions', {query: {limit: 1000, include_attributes: 'ref'}})
    .then(({data}) => replace(refs, data.map((a) => h('option', {value: a.ref}))))
    .catch(() => {});
  // Suggestions for the rule and trigger filters: the rules, and the trigger types they listen to.
  api('/rules', {query: {limit: 1000, include_attributes: 'ref,trigger'}})
    .then(({data}) => {
      replace(ruleRefs, data.map((r) => h('option', {value: r.ref})));
      const types = [...new Set(data.map((r) => (r.trigger || {}).type).filter(Boolean))].sort();
      replace(triggerTypes, types.map((t) => h('option', {value: t})));
    })
    .catch(() => {});

  return () => {
    stop();
    clearTimeout(timer);
  };
}
