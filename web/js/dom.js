// Building DOM from data. Every value is put in as text (text nodes, textContent, setAttribute), never parsed as
// HTML: nothing the API returns can become markup or script.

/** h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, [more]) → an element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'value' && 'value' in el) el.value = String(value);
    else if (name === 'checked') el.checked = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends strings (as text), numbers, elements and arrays of them; skips null/undefined/false. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Empties `el` and fills it with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A JSON value as indented text (strings as they are). */
export function pretty(value) {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

const FINAL = new Set(['succeeded', 'failed', 'timeout', 'abandoned', 'canceled']);
export const isFinal = (status) => FINAL.has(status);

export const STATUSES = ['requested', 'scheduled', 'delayed', 'running', 'succeeded', 'failed', 'timeout',
  'abandoned', 'canceling', 'canceled', 'pending', 'pausing', 'paused', 'resuming'];

/** A status as a badge (its colour comes from style.css by status name). */
export function badge(status) {
  return h('span', {class: `badge s-${STATUSES.includes(status) ? status : 'other'}`}, status || '?');
}

/** ISO time → local "YYYY-MM-DD HH:MM:SS" (the full value in the title). */
export function time(iso) {
  if (!iso) return h('span', {class: 'muted'}, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, iso);
  const p = (n) => String(n).padStart(2, '0');
  const text = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return h('time', {datetime: iso, title: iso}, text);
}

/** Seconds as "0.123 s", "12.3 s", "3 min 4 s". */
export function duration(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return '';
  if (seconds < 10) return `${seconds.toFixed(3)} s`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** Elapsed seconds of an execution (so far, when it still runs). */
export function elapsed(e) {
  if (typeof e.elapsed_seconds === 'number') return e.elapsed_seconds;
  const start = Date.parse(e.start_timestamp);
  if (Number.isNaN(start)) return undefined;
  const end = e.end_timestamp ? Date.parse(e.end_timestamp) : Date.now();
  return Math.max(0, (end - start) / 1000);
}

/** An error message box (role=alert, so screen readers announce it). */
export function errorBox(error) {
  return h('p', {class: 'error', role: 'alert'}, error && error.message ? error.message : String(error));
}

/** "#/route?a=1&b=2" with the empty values left out. */
export function link(route, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return `#${route}${s ? `?${s}` : ''}`;
}
