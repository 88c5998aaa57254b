// Rules (with enable/disable) and trigger instances with their trace: which rules matched, which did not and the
// first failing criterion, and the executions they caused (docs/api.md "Triggers, trigger instances,
// enforcements and traces").
import {api} from './api.js';
import {h, replace, badge, time, duration, errorBox, link, pretty} from './dom.js';

const PAGE = 50;

export function rulesView(main) {
  document.title = 'Rules · Squall';
  const message = h('div', {'aria-live': 'polite'});
  const tbody = h('tbody', {id: 'rules'});
  replace(main, h('h1', {}, 'Rules'), message, h('div', {class: 'scroll'}, h('table', {class: 'list'},
    h('thead', {}, h('tr', {}, h('th', {}, 'Rule'), h('th', {}, 'Trigger'), h('th', {}, 'Action'),
      h('th', {}, 'Enabled'))), tbody)));

  const row = (r) => {
    const toggle = h('button', {type: 'button', class: 'small', 'aria-pressed': r.enabled ? 'true' : 'false',
      onclick: async () => {
        replace(message);
        toggle.disabled = true;
        try {
          // StackStorm's way: the whole rule back with `enabled` changed.
          const {data: rule} = await api(`/rules/${encodeURIComponent(r.ref)}`);
          const {data: saved} = await api(`/rules/${encodeURIComponent(r.ref)}`, {method: 'PUT',
            body: {...rule, enabled: !rule.enabled}});
          tr.replaceWith(row(saved));
        } catch (e) {
          replace(message, errorBox(new Error(`${r.ref}: ${e.message}`)));
          toggle.disabled = false;
        }
      }}, r.enabled ? 'Disable' : 'Enable');
    const trigger = r.trigger || {};
    const params = trigger.parameters && Object.keys(trigger.parameters).length ? trigger.parameters : null;
    const tr = h('tr', {'data-ref': r.ref},
      h('td', {}, h('strong', {}, r.ref), r.description ? h('div', {class: 'help'}, r.description) : null),
      h('td', {}, trigger.type || '', params ? h('div', {class: 'help mono'}, JSON.stringify(params)) : null),
      h('td', {}, r.action && r.action.ref ?
        h('a', {href: link(`/actions/${encodeURIComponent(r.action.ref)}`)}, r.action.ref) : ''),
      h('td', {}, h('span', {class: 'state'}, r.enabled ? 'yes ' : 'no '), toggle));
    return tr;
  };
  api('/rules', {query: {limit: 1000}})
    .then(({data}) => replace(tbody, data.length ? data.map(row) : h('tr', {}, h('td', {colspan: 4}, 'No rules.'))))
    .catch((e) => replace(message, errorBox(e)));
}

export function tracesView(main, query) {
  document.title = 'Trigger instances · Squall';
  const offset = Math.max(0, Number(query.offset) || 0);
  const trigger = h('input', {id: 'f-trigger', name: 'trigger', value: query.trigger || '',
    placeholder: 'core.st2.webhook'});
  const form = h('form', {class: 'filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = link('/traces', {trigger: trigger.value.trim()});
  }}, h('label', {for: 'f-trigger'}, 'Trigger type'), trigger, h('button', {type: 'submit'}, 'Filter'));
  const tbody = h('tbody', {id: 'instances'});
  const pager = h('div', {class: 'pagerow'});
  replace(main, h('h1', {}, 'Trigger instances'), form, h('div', {class: 'scroll'}, h('table', {class: 'list'},
    h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Trigger'), h('th', {}, 'Status'),
      h('th', {class: 'narrow-hide'}, 'ID'))), tbody)), pager);
  api('/triggerinstances', {query: {limit: PAGE, offset, trigger: query.trigger}}).then(({data, total}) => {
    replace(tbody, data.length ? data.map((t) => h('tr', {'data-id': t.id},
      h('td', {}, h('a', {href: link(`/traces/${encodeURIComponent(t.id)}`)}, time(t.occurrence_time))),
      h('td', {}, t.trigger || '', t.trigger_parameters && Object.keys(t.trigger_parameters).length ?
        h('div', {class: 'help mono'}, JSON.stringify(t.trigger_parameters)) : null),
      h('td', {}, t.status || ''),
      h('td', {class: 'mono narrow-hide'}, t.id))) : h('tr', {}, h('td', {colspan: 4}, 'No trigger instances.')));
    replace(pager, h('span', {class: 'muted'}, total ? `${offset + 1}–${offset + data.length} of ${total}` : ''),
      h('nav', {class: 'pager', 'aria-label': 'Pages'},
        offset > 0 ? h('a', {href: link('/traces', {...query, offset: Math.max(0, offset - PAGE)})}, '← Newer')
          : null,
        offset + PAGE < total ? h('a', {href: link('/traces', {...query, offset: offset + PAGE})}, 'Older →')
          : null));
  }).catch((e) => replace(tbody, h('tr', {}, h('td', {colspan: 4}, errorBox(e)))));
}

function executionTree(nodes) {
  return h('ul', {class: 'tree'}, nodes.map((n) => h('li', {},
    badge(n.status), ' ', h('a', {href: link(`/executions/${encodeURIComponent(n.id)}`)}, n.action || n.id),
    n.task ? h('span', {class: 'muted'}, ` task ${n.task}`) : null,
    typeof n.elapsed_seconds === 'number' ? h('span', {class: 'muted'}, ` ${duration(n.elapsed_seconds)}`) : null,
    n.error ? h('span', {class: 'error-text'}, ` ${n.error}`) : null,
    n.children && n.children.length ? executionTree(n.children) : null)));
}

function decision(d) {
  return h('li', {class: `decision ${d.matched ? 'matched' : 'missed'}`, 'data-rule': d.rule},
    h('strong', {}, d.rule), ' ', h('span', {class: 'verdict'}, d.matched ? 'matched' : 'not matched'),
    d.evaluated === 'now' ? h('span', {class: 'muted'}, ' (evaluated now, against the rules as they are)') : null,
    d.reason ? h('div', {class: 'reason'}, d.reason) : null,
    d.failure_reason ? h('div', {class: 'reason'}, d.failure_reason) : null,
    d.execution_id ? h('div', {}, 'execution ',
      h('a', {href: link(`/executions/${encodeURIComponent(d.execution_id)}`)}, d.execution_id)) : null,
    Array.isArray(d.criteria) && d.criteria.length ? h('table', {class: 'list criteria'},
      h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Operator'), h('th', {}, 'Pattern'),
        h('th', {}, 'Value'), h('th', {}, 'Passed'))),
      h('tbody', {}, d.criteria.map((c) => h('tr', {},
        h('td', {class: 'mono'}, c.key), h('td', {}, c.type),
        h('td', {class: 'mono'}, c.pattern === null || c.pattern === undefined ? '' : pretty(c.pattern)),
        h('td', {class: 'mono'}, c.absent ? '(absent)' : pretty(c.value)),
        h('td', {}, c.passed ? 'yes' : 'no'))))) : null);
}

export function traceView(main, id) {
  document.title = `Trace ${id} · Squall`;
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  replace(main, h('p', {}, h('a', {href: '#/traces'}, '← Trigger instances')), h('h1', {}, `Trace ${id}`), body);
  const emitted = h('div', {'aria-live': 'polite'});
  // Re-emit (StackStorm's re_emit): the same trigger and payload again, through the rules as they are now.
  const reEmit = h('button', {type: 'button', id: 're-emit', onclick: async () => {
    replace(emitted);
    reEmit.disabled = true;
    try {
      const {data} = await api(`/triggerinstances/${encodeURIComponent(id)}/re_emit`, {method: 'POST', body: {}});
      const copy = data.trigger_instance || {};
      replace(emitted, h('p', {role: 'status'}, 'Re-emitted as ',
        h('a', {href: link(`/traces/${encodeURIComponent(copy.id)}`)}, copy.id), '.'));
    } catch (e) {
      replace(emitted, errorBox(e));
    } finally {
      reEmit.disabled = false;
    }
  }}, 'Re-emit');
  api(`/traces/${encodeURIComponent(id)}`).then(({data: t}) => {
    const ti = t.trigger_instance || {};
    replace(body, h('div', {class: 'buttons'}, reEmit), emitted,
      h('dl', {class: 'facts'},
        h('dt', {}, 'Trigger'), h('dd', {}, ti.trigger || ''),
        h('dt', {}, 'When'), h('dd', {}, time(ti.occurrence_time)),
        h('dt', {}, 'Status'), h('dd', {}, ti.status || ''),
        t.trace_tag ? [h('dt', {}, 'Trace tag'), h('dd', {}, t.trace_tag)] : null),
      h('section', {}, h('h2', {}, 'Rules'), (t.rule_decisions || []).length ?
        h('ul', {class: 'decisions', id: 'decisions'}, t.rule_decisions.map(decision)) :
        h('p', {class: 'muted'}, 'No rule is on this trigger.')),
      h('section', {}, h('h2', {}, 'Executions'), (t.executions || []).length ?
        executionTree(t.executions) : h('p', {class: 'muted'}, 'None.')),
      h('section', {}, h('h2', {}, 'Payload'), h('pre', {class: 'json', id: 'payload', tabindex: 0},
        pretty(ti.payload))));
  }).catch((e) => replace(body, errorBox(e)));
}
