// A workflow's tasks on one time axis (Gantt bars): a row per task execution with its start, end (now while it
// runs) and status; the items of a with-items task as one row with their counts and a link to each item.
import {h, badge, time, duration, elapsed, link} from './dom.js';

// Worst first: the status a row of items shows.
const SEVERITY = ['failed', 'timeout', 'abandoned', 'canceled', 'canceling', 'pending', 'paused', 'pausing',
  'resuming', 'running', 'scheduled', 'requested', 'delayed', 'succeeded'];
const severity = (s) => (SEVERITY.includes(s) ? SEVERITY.indexOf(s) : SEVERITY.length);

function task(c) {
  const ctx = c.context || {};
  const o = ctx.orquesta || {};
  return {
    name: o.task_name || (ctx.chain && ctx.chain.name) || (c.action && c.action.ref) || c.id,
    id: o.task_id || o.task_name,
    item: typeof o.item_id === 'number' ? o.item_id : -1,
  };
}

/** Children in start order → rows: {name, items: [executions], withItems}. */
function rows(list) {
  const out = [];
  const byTask = new Map();
  for (const c of list) {
    const t = task(c);
    if (t.item < 0) {
      out.push({name: t.name, items: [c], withItems: false});
      continue;
    }
    let row = byTask.get(t.id);
    if (!row) {
      row = {name: t.name, items: [], withItems: true};
      byTask.set(t.id, row);
      out.push(row);
    }
    row.items.push(c);
  }
  return out;
}

/** Milliseconds since the epoch → local "HH:MM:SS.mmm" (a bar's start and end). */
const clock = (ms) => {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
};

const at = (iso, fallback) => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? fallback : t;
};

/** The timeline of `children` (executions) as elements; `now` is where running bars end. */
export function timeline(children, now = Date.now()) {
  const list = [...children].sort((a, b) => String(a.start_timestamp).localeCompare(String(b.start_timestamp)));
  const start = Math.min(now, ...list.map((c) => at(c.start_timestamp, now)));
  const end = Math.max(start + 1, ...list.map((c) => (c.end_timestamp ? at(c.end_timestamp, now) : now)));
  const span = end - start;
  const table = rows(list);
  return [
    h('h2', {}, `Tasks (${table.length})`),
    h('ol', {class: 'gantt'}, table.map((row) => {
      const first = row.items[0];
      const s = Math.min(...row.items.map((c) => at(c.start_timestamp, start)));
      const e = Math.max(...row.items.map((c) => (c.end_timestamp ? at(c.end_timestamp, now) : now)));
      const status = row.items.map((c) => c.status).sort((a, b) => severity(a) - severity(b))[0];
      const href = link(`/executions/${encodeURIComponent(first.id)}`);
      const took = duration((e - s) / 1000);
      const running = row.items.some((c) => !c.end_timestamp);
      // Start, end and status of the bar, as its tooltip and for screen readers.
      const label = `${status}, ${clock(s)} → ${running ? 'now' : clock(e)} (${took})`;
      const bar = h('a', {class: `bar s-${status}`, href, title: label, 'data-start': clock(s),
        'data-end': running ? '' : clock(e)}, h('span', {class: 'sr'}, label));
      bar.style.left = `${((s - start) / span) * 100}%`;
      bar.style.width = `${Math.max(0.5, ((e - s) / span) * 100)}%`;
      if (!row.withItems) {
        return h('li', {'data-id': first.id},
          h('a', {class: 'task', href}, row.name),
          h('span', {class: 'track'}, bar),
          h('span', {class: 'took'}, badge(status), ' ', duration(elapsed(first))));
      }
      const counts = new Map();
      for (const c of row.items) counts.set(c.status, (counts.get(c.status) || 0) + 1);
      const items = [...row.items].sort((a, b) => task(a).item - task(b).item);
      return h('li', {'data-task': row.name, class: 'items'},
        h('a', {class: 'task', href}, row.name),
        h('span', {class: 'track'}, bar),
        h('span', {class: 'took'}, badge(status), ' ', took),
        h('span', {class: 'itemline'},
          `${row.items.length} items: `, [...counts].map(([k, n]) => `${n} ${k}`).join(', '), ' · ',
          items.slice(0, 100).map((c) => [h('a', {href: link(`/executions/${encodeURIComponent(c.id)}`),
            'aria-label': `item ${task(c).item}: ${c.status}`}, `#${task(c).item}`), ' '])));
    })),
    h('p', {class: 'muted'}, 'From ', time(new Date(start).toISOString()), ` over ${duration(span / 1000)}.`),
  ];
}
