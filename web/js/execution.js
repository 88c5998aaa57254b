// One execution: status and times, parameters (masked by the API), result, stdout/stderr streaming while it runs,
// the status history, and for workflows a timeline of its tasks. Cancel, re-run, pause and resume.
import {api} from './api.js';
import {follow} from './stream.js';
import {h, replace, badge, time, duration, elapsed, errorBox, link, pretty, isFinal} from './dom.js';
import {timeline as tasksTimeline} from './timeline.js';

const MAX_CHILDREN = 200;

export function executionView(main, id) {
  document.title = `Execution ${id} · Squall`;
  let execution = null;
  const children = new Map();  // id → execution
  const title = h('h1', {}, id);
  // One element for the status all along, so that screen readers announce each change.
  const status = h('span', {id: 'status', 'aria-live': 'polite'});
  const header = h('div', {class: 'title'}, title, status);
  const actions = h('div', {class: 'buttons'});
  const message = h('div', {'aria-live': 'polite'});
  const failure = h('div', {id: 'failure', role: 'alert', hidden: true});
  const facts = h('dl', {class: 'facts'});
  const timeline = h('section', {id: 'timeline', hidden: true});
  const stdout = h('pre', {id: 'stdout', class: 'output', tabindex: 0});
  const stderr = h('pre', {id: 'stderr', class: 'output err', tabindex: 0});
  const result = h('pre', {id: 'result', class: 'json', tabindex: 0});
  const parameters = h('pre', {id: 'parameters', class: 'json', tabindex: 0});
  const history = h('tbody');
  replace(main, header, actions, message, failure, facts, timeline,
    h('section', {}, h('h2', {}, 'Output'), h('h3', {}, 'stdout'), stdout, h('h3', {}, 'stderr'), stderr),
    h('section', {}, h('h2', {}, 'Result'), result),
    h('section', {}, h('h2', {}, 'Parameters'), parameters),
    h('section', {}, h('h2', {}, 'Status history'),
      h('table', {class: 'list'}, h('thead', {}, h('tr', {}, h('th', {}, 'Status'), h('th', {}, 'At'))), history)));

  const act = async (label, fn) => {
    replace(message);
    try {
      await fn();
    } catch (e) {
      replace(message, errorBox(new Error(`${label}: ${e.message}`)));
    }
  };

  function drawButtons(e) {
    const runner = (e.runner && e.runner.name) || '';
    const workflow = /orquesta|chain/.test(runner);
    replace(actions,
      !isFinal(e.status) ? h('button', {type: 'button', id: 'cancel', onclick: () => act('Cancel', () =>
        api(`/executions/${encodeURIComponent(id)}`, {method: 'DELETE'}))}, 'Cancel') : null,
      h('button', {type: 'button', id: 'rerun', onclick: () => act('Re-run', async () => {
        const {data} = await api(`/executions/${encodeURIComponent(id)}/re_run`, {method: 'POST', body: {}});
        location.hash = link(`/executions/${encodeURIComponent(data.id)}`);
      })}, 'Re-run'),
      workflow && e.status === 'running' ? h('button', {type: 'button', id: 'pause', onclick: () => act('Pause', () =>
        api(`/executions/${encodeURIComponent(id)}`, {method: 'PUT', body: {status: 'pausing'}}))}, 'Pause') : null,
      e.status === 'paused' ? h('button', {type: 'button', id: 'resume', onclick: () => act('Resume', () =>
        api(`/executions/${encodeURIComponent(id)}`, {method: 'PUT', body: {status: 'resuming'}}))}, 'Resume') : null);
  }

  // Why it failed, at the top: the result's `errors` (a line each: a pack's loader errors with file:line:column)
  // or its `error`, as text.
  function drawFailure(e) {
    const r = e.result && typeof e.result === 'object' ? e.result : {};
    const lines = Array.isArray(r.errors) && r.errors.length ? r.errors.map(pretty)
      : (typeof r.error === 'string' && r.error ? r.error.split('\n') : []);
    failure.hidden = !['failed', 'timeout', 'abandoned'].includes(e.status) || lines.length === 0;
    if (failure.hidden) replace(failure);
    else replace(failure, h('div', {class: 'error'}, h('strong', {}, 'Error'), h('ul', {class: 'errors'},
      lines.map((l) => h('li', {class: 'mono'}, l)))));
  }

  function draw(e) {
    // A read that was answered before an event it crossed is older than what is drawn: a final status stays.
    if (execution && isFinal(execution.status) && !isFinal(e.status)) return;
    // Buttons only when the status changed, so that a focused button keeps the focus through other updates.
    if (!execution || execution.status !== e.status) drawButtons(e);
    execution = e;
    const ref = e.action && e.action.ref ? e.action.ref : '?';
    const ctx = e.context || {};
    replace(title, ref);
    replace(status, badge(e.status));
    const fact = (name, ...value) => [h('dt', {}, name), h('dd', {}, ...value)];
    replace(facts,
      fact('ID', h('span', {class: 'mono'}, e.id)),
      fact('Started', time(e.start_timestamp)),
      fact('Ended', time(e.end_timestamp)),
      fact('Took', h('span', {id: 'took'}, duration(elapsed(e)))),
      fact('User', ctx.user || ''),
      fact('Runner', (e.runner && e.runner.name) || ''),
      e.parent ? fact('Parent', h('a', {href: link(`/executions/${encodeURIComponent(e.parent)}`)}, e.parent)) : null,
      e.rule && e.rule.ref ? fact('Rule', e.rule.ref) : null,
      e.trigger_instance && e.trigger_instance.id ? fact('Trigger instance', e.trigger_instance.id) : null);
    drawFailure(e);
    replace(result, pretty(e.result));
    replace(parameters, pretty(e.parameters));
    replace(history, (e.log || []).map((l) =>
      h('tr', {}, h('td', {}, badge(l.status)), h('td', {}, time(l.timestamp)))));
  }

  // --- output: read once, then appended from the stream while the execution runs -------------------------------
  let outputLoaded = false;
  async function loadOutput() {
    const base = `/executions/${encodeURIComponent(id)}/output`;
    const [out, err] = await Promise.all([
      api(base, {query: {output_type: 'stdout'}}), api(base, {query: {output_type: 'stderr'}})]);
    replace(stdout, out.data);
    replace(stderr, err.data);
    outputLoaded = true;
  }
  function appendOutput(line) {
    if (!outputLoaded) return;  // the read that follows has it
    const pre = line.output_type === 'stderr' ? stderr : stdout;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(document.createTextNode(line.data || ''));
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  // --- the timeline of a workflow's tasks ---------------------------------------------------------------------
  let timelineTimer = 0;
  function drawTimeline() {
    timelineTimer = 0;
    timeline.hidden = children.size === 0;
    if (children.size) replace(timeline, tasksTimeline(children.values()));
  }
  const redrawTimeline = () => {
    if (!timelineTimer) timelineTimer = setTimeout(drawTimeline, 50);
  };
  async function loadChildren(ids) {
    const todo = ids.filter((c) => !children.has(c)).slice(0, MAX_CHILDREN - children.size);
    for (let i = 0; i < todo.length; i += 8) {
      const got = await Promise.all(todo.slice(i, i + 8).map((c) =>
        api(`/executions/${encodeURIComponent(c)}`).then((r) => r.data).catch(() => null)));
      for (const c of got) if (c) children.set(c.id, c);
      redrawTimeline();
    }
  }
  // Running tasks' bars grow with time.
  const ticker = setInterval(() => {
    if ([...children.values()].some((c) => !isFinal(c.status))) redrawTimeline();
    const took = facts.querySelector('#took');
    if (execution && took && !isFinal(execution.status)) replace(took, duration(elapsed(execution)));
  }, 1000);

  // --- live updates -----------------------------------------------------------------------------------------------
  // Read at each (re)connection of the stream: what changed while it was down, or before it connected (the
  // fallback read), is never delivered by it.
  let reads = 0;
  const load = () => {
    reads += 1;
    api(`/executions/${encodeURIComponent(id)}`)
      .then(({data}) => {
        draw(data);
        loadChildren(data.children || []);
        return loadOutput();
      })
      .catch((e) => replace(message, errorBox(e)));
  };
  const fallback = setTimeout(() => {  // a stream that does not connect delays the page no longer
    if (!reads) load();
  }, 2000);
  const stop = follow({events: 'st2.execution__create,st2.execution__update,st2.execution.output__create'},
    (name, data) => {
      if (name === 'st2.execution.output__create') {
        if (data.execution_id === id) appendOutput(data);
        return;
      }
      if (data.id === id) {
        draw(data);
        if (isFinal(data.status)) loadOutput().catch(() => {});  // the complete output, as stored
        if (Array.isArray(data.children)) loadChildren(data.children);
      } else if (data.parent === id && (children.has(data.id) || children.size < MAX_CHILDREN)) {
        children.set(data.id, data);
        redrawTimeline();
      }
    },
    (state) => {
      // Read once the stream is connected, so that nothing happens unseen between the read and the stream.
      if (state === 'live') {
        clearTimeout(fallback);
        load();
      }
    });

  return () => {
    stop();
    clearInterval(ticker);
    clearTimeout(fallback);
    clearTimeout(timelineTimer);
  };
}
