// Rules (with enable/disable, and a page per rule with the rule tester) and trigger instances with their trace:
// which rules matched, which did not and the first failing criterion, and the executions they caused (docs/api.md
// "Triggers, trigger instances, enforcements and traces"); "test this rule against this trigger instance" on both.
import {api} from './api.js';
import {h, replace, badge, time, duration, errorBox, link, pretty} from './dom.js';
import {criteriaTable, runTest} from './ruletest.js';

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
      h('td', {}, h('a', {href: link(`/rules/${encodeURIComponent(r.ref)}`)}, h('strong', {}, r.ref)),
        r.description ? h('div', {class: 'help'}, r.description) : null),
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

function decision(d, test) {
  return h('li', {class: `decision ${d.matched ? 'matched' : 'missed'}`, 'data-rule': d.rule},
    h('strong', {}, d.rule), ' ', h('span', {class: 'verdict'}, d.matched ? 'matched' : 'not matched'),
    d.evaluated === 'now' ? h('span', {class: 'muted'}, ' (evaluated now, against the rules as they are)') : null,
    ' ', h('button', {type: 'button', class: 'small test-rule', onclick: () => test(d.rule)}, 'Test'),
    d.reason ? h('div', {class: 'reason'}, d.reason) : null,
    d.failure_reason ? h('div', {class: 'reason'}, d.failure_reason) : null,
    d.execution_id ? h('div', {}, 'execution ',
      h('a', {href: link(`/executions/${encodeURIComponent(d.execution_id)}`)}, d.execution_id)) : null,
    criteriaTable(d.criteria));
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
  // The rule tester: any rule on this instance's trigger type (disabled ones too) against this instance, now.
  const testOut = h('div', {'aria-live': 'polite'});
  const ruleSelect = h('select', {id: 'test-rule', name: 'rule'});
  const test = (ref) => {
    if (ref) ruleSelect.value = ref;
    runTest(testOut, ruleSelect.value, id);
  };
  const tester = h('section', {class: 'tester'}, h('h2', {}, 'Test a rule against this instance'),
    h('form', {class: 'filters', onsubmit: (ev) => {
      ev.preventDefault();
      test();
    }}, h('label', {for: 'test-rule'}, 'Rule'), ruleSelect,
    h('button', {type: 'submit', id: 'rule-test'}, 'Test')), testOut);
  api(`/traces/${encodeURIComponent(id)}`).then(({data: t}) => {
    const ti = t.trigger_instance || {};
    api('/rules', {query: {limit: 1000, trigger: ti.trigger, include_attributes: 'ref'}})
      .then(({data}) => replace(ruleSelect, data.map((r) => h('option', {value: r.ref}, r.ref))))
      .catch((e) => replace(testOut, errorBox(e)));
    replace(body, h('div', {class: 'buttons'}, reEmit), emitted,
      h('dl', {class: 'facts'},
        h('dt', {}, 'Trigger'), h('dd', {}, ti.trigger || ''),
        h('dt', {}, 'When'), h('dd', {}, time(ti.occurrence_time)),
        h('dt', {}, 'Status'), h('dd', {}, ti.status || ''),
        t.trace_tag ? [h('dt', {}, 'Trace tag'), h('dd', {}, t.trace_tag)] : null),
      h('section', {}, h('h2', {}, 'Rules'), (t.rule_decisions || []).length ?
        h('ul', {class: 'decisions', id: 'decisions'}, t.rule_decisions.map((d) => decision(d, test))) :
        h('p', {class: 'muted'}, 'No rule is on this trigger.')),
      tester,
      h('section', {}, h('h2', {}, 'Executions'), (t.executions || []).length ?
        executionTree(t.executions) : h('p', {class: 'muted'}, 'None.')),
      h('section', {}, h('h2', {}, 'Payload'), h('pre', {class: 'json', id: 'payload', tabindex: 0},
        pretty(ti.payload))));
  }).catch((e) => replace(body, errorBox(e)));
}

/** A rule: its trigger, criteria and action, an enable/disable link to the list, its executions, and the rule
 * tester against a stored trigger instance (recent ones of its trigger type offered) or a payload given here. */
export function ruleView(main, ref) {
  document.title = `${ref} · Squall`;
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  replace(main, h('p', {}, h('a', {href: '#/rules'}, '← Rules')), h('h1', {}, ref), body);
  api(`/rules/${encodeURIComponent(ref)}`).then(({data: r}) => {
    const trigger = r.trigger || {};
    const action = r.action || {};
    const criteria = Object.entries(r.criteria || {}).map(([key, c]) => ({key, type: (c || {}).type,
      pattern: (c || {}).pattern}));
    const instance = h('input', {id: 'test-instance', name: 'trigger_instance', list: 'recent-instances',
      autocomplete: 'off', placeholder: 'trigger instance ID'});
    const recent = h('datalist', {id: 'recent-instances'});
    const payload = h('textarea', {id: 'test-payload', name: 'payload', rows: 5, class: 'mono',
      placeholder: '{"body": {"kind": "build"}}', 'aria-describedby': 'test-payload-help'});
    const out = h('div', {'aria-live': 'polite'});
    const form = h('form', {id: 'rule-test-form', onsubmit: (ev) => {
      ev.preventDefault();
      if (instance.value.trim()) return runTest(out, r.ref, instance.value.trim());
      let given;
      try {
        given = JSON.parse(payload.value || '{}');
      } catch (e) {
        return replace(out, errorBox(new Error(`payload: not JSON (${e.message})`)));
      }
      return runTest(out, r.ref, {trigger: trigger.type, trigger_parameters: trigger.parameters || {},
        payload: given});
    }},
    h('div', {class: 'field'}, h('label', {for: 'test-instance'}, 'Trigger instance'), instance, recent),
    h('div', {class: 'field'}, h('label', {for: 'test-payload'}, 'or a payload (JSON)'), payload,
      h('div', {class: 'help', id: 'test-payload-help'},
        'Used when no trigger instance is given; the rule\'s trigger type and parameters go with it.')),
    h('div', {class: 'buttons'}, h('button', {type: 'submit', id: 'rule-test'}, 'Test')));
    replace(body,
      r.description ? h('p', {class: 'lead'}, r.description) : null,
      h('dl', {class: 'facts'},
        h('dt', {}, 'Enabled'), h('dd', {}, r.enabled ? 'yes' : 'no'),
        h('dt', {}, 'Trigger'), h('dd', {}, trigger.type || '', trigger.parameters &&
          Object.keys(trigger.parameters).length ? h('div', {class: 'mono'}, JSON.stringify(trigger.parameters))
          : null),
        h('dt', {}, 'Action'), h('dd', {}, h('a', {href: link(`/actions/${encodeURIComponent(action.ref || '')}`)},
          action.ref || '')),
        h('dt', {}, 'History'), h('dd', {}, h('a', {href: link('/executions', {rule: r.ref})}, 'its executions'))),
      h('section', {}, h('h2', {}, 'Criteria'), criteria.length ? criteriaTable(criteria) :
        h('p', {class: 'muted'}, 'None: every instance matches.')),
      h('section', {}, h('h2', {}, 'Action parameters'), h('pre', {class: 'json', tabindex: 0},
        pretty(action.parameters || {}))),
      h('section', {class: 'tester'}, h('h2', {}, 'Test this rule'), form, out));
    api('/triggerinstances', {query: {limit: 20, trigger: trigger.type}})
      .then(({data}) => replace(recent, data.map((t) => h('option', {value: t.id},
        `${t.occurrence_time || ''} ${t.trigger_parameters ? JSON.stringify(t.trigger_parameters) : ''}`))))
      .catch(() => {});
  }).catch((e) => replace(body, errorBox(e)));
}
