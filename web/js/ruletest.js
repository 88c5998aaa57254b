// "Test this rule against this trigger instance": POST /rules/test (st2-rule-tester, docs/api.md "Rule tester")
// and its verdict: matched or not and why, every criterion with the first failing one marked, and the action
// parameters as the rule would render them. Used on a trace's page and on a rule's page.
import {api} from './api.js';
import {h, replace, errorBox, pretty, link} from './dom.js';

/** A table of criteria ({key, type, pattern}) with their verdicts ({value, absent, passed, error}) when they have
 * them; the first failing one (`failed`) is marked. In a box that scrolls sideways: a long key or value does not
 * widen the page on a phone. */
export function criteriaTable(criteria, failed) {
  if (!Array.isArray(criteria) || !criteria.length) return null;
  const judged = criteria.some((c) => typeof c.passed === 'boolean');
  return h('div', {class: 'scroll'}, h('table', {class: 'list criteria'},
    h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Operator'), h('th', {}, 'Pattern'),
      judged ? [h('th', {}, 'Value'), h('th', {}, 'Passed')] : null)),
    h('tbody', {}, criteria.map((c) => h('tr', {class: failed && c.key === failed.key && c.type === failed.type &&
      !c.passed ? 'first-failed' : null},
    h('td', {class: 'mono'}, c.key), h('td', {}, c.type),
    h('td', {class: 'mono'}, c.error ? `render error: ${c.error}` :
      (c.pattern === null || c.pattern === undefined ? '' : pretty(c.pattern))),
    judged ? [h('td', {class: 'mono'}, c.absent ? '(absent)' : pretty(c.value)),
      h('td', {}, c.passed ? 'yes' : 'no')] : null)))));
}

/** The tester's answer as a block. */
export function verdict(r) {
  const fc = r.failed_criterion;
  const ti = r.trigger_instance || {};
  const action = r.action || {};
  return h('div', {class: `rule-test ${r.matched ? 'matched' : 'missed'}`, id: 'rule-test-result', role: 'status'},
    h('p', {}, h('strong', {class: 'verdict'}, r.matched ? 'Matches' : 'Does not match'), ': ',
      (r.rule || {}).ref || '', ' on ', ti.id ? h('a', {href: link(`/traces/${encodeURIComponent(ti.id)}`)}, ti.id)
        : 'the given payload', ` (${ti.trigger || '?'})`),
    r.reason ? h('p', {class: 'reason'}, r.reason) : null,
    fc ? h('p', {class: 'first-failed-text'}, 'First failing criterion: ',
      h('code', {}, `${fc.key} ${fc.type} ${pretty(fc.pattern)}`),
      ', value ', h('code', {}, fc.absent ? '(absent)' : pretty(fc.value))) : null,
    criteriaTable(r.criteria, fc),
    h('p', {}, r.matched ? 'It would run ' : 'Its action is ', h('a', {href: link(
      `/actions/${encodeURIComponent(action.ref || '')}`)}, action.ref || '?'), ' with:'),
    h('pre', {class: 'json', id: 'rule-test-parameters', tabindex: 0}, pretty(action.parameters || {})));
}

/** Runs the tester and shows its answer (or the server's error) in `out`. */
export async function runTest(out, rule, triggerInstance) {
  replace(out, h('p', {class: 'muted'}, 'Testing…'));
  try {
    const {data} = await api('/rules/test', {method: 'POST', body: {rule, trigger_instance: triggerInstance}});
    replace(out, verdict(data));
  } catch (e) {
    replace(out, errorBox(e));
  }
}
