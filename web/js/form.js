// A run form generated from an action's parameter schema (the runner's parameters overlaid by the action's, as
// the server merges them): strings as text, numbers as number fields, enums as selects, booleans as checkboxes,
// arrays and objects as JSON text checked before sending, secrets as password fields, required ones marked,
// defaults filled in, descriptions as help. The server's error goes next to the parameter it names.
import {h, replace, errorBox} from './dom.js';

const OVERLAID = ['default', 'description', 'enum', 'immutable', 'required'];

/** The parameters a run may give: runner's and action's merged, immutable ones left out, in display order (required,
 * the action's own, the runner's; each by position, then name). */
export function effectiveParameters(runnerParameters = {}, actionParameters = {}) {
  const out = {};
  for (const [name, s] of Object.entries(runnerParameters || {})) out[name] = {...s};
  for (const [name, s] of Object.entries(actionParameters || {})) {
    if (out[name] && s && typeof s === 'object') {
      for (const k of OVERLAID) if (k in s) out[name][k] = s[k];
    } else {
      out[name] = {...s};
    }
  }
  // Required first, then the action's own before the runner's general ones (cwd, env, timeout...).
  const own = (name) => Number(Boolean(actionParameters && name in actionParameters));
  return Object.entries(out)
    .filter(([, s]) => !s.immutable)
    .sort(([an, a], [bn, b]) =>
      (Number(Boolean(b.required)) - Number(Boolean(a.required))) || (own(bn) - own(an)) ||
      ((a.position ?? 1e9) - (b.position ?? 1e9)) || an.localeCompare(bn));
}

function typeOf(schema) {
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  return t || 'string';
}

/** One parameter's field: {name, row (the element), read() → {value} | {skip} | throws Error}. */
function field(name, schema, id) {
  const type = typeOf(schema);
  const hasDefault = schema.default !== undefined && schema.default !== null;
  const help = schema.description ? h('p', {class: 'help', id: `${id}-help`}, schema.description) : null;
  const error = h('p', {class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true});
  const described = [help ? `${id}-help` : '', `${id}-error`].filter(Boolean).join(' ');
  const common = {id, name, 'aria-describedby': described, 'data-param': name};
  let input;
  let read;
  if (Array.isArray(schema.enum)) {
    input = h('select', common,
      schema.required ? null : h('option', {value: ''}, '(not given)'),
      schema.enum.map((v, i) => h('option', {value: String(i), selected: hasDefault && v === schema.default},
        typeof v === 'string' ? v : JSON.stringify(v))));
    read = () => (input.value === '' ? {skip: true} : {value: schema.enum[Number(input.value)]});
  } else if (type === 'boolean') {
    input = h('input', {...common, type: 'checkbox', checked: hasDefault ? schema.default === true : false});
    read = () => ({value: input.checked});
  } else if (type === 'integer' || type === 'number') {
    input = h('input', {...common, type: 'number', step: type === 'integer' ? '1' : 'any',
      value: hasDefault ? String(schema.default) : '', required: Boolean(schema.required)});
    read = () => {
      if (input.value.trim() === '') return {skip: true};
      const n = Number(input.value);
      if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) {
        throw new Error(`must be ${type === 'integer' ? 'an integer' : 'a number'}`);
      }
      return {value: n};
    };
  } else if (type === 'array' || type === 'object') {
    input = h('textarea', {...common, rows: 4, class: 'mono', spellcheck: 'false',
      placeholder: type === 'array' ? '["a", "b"]' : '{"key": "value"}',
      value: hasDefault ? JSON.stringify(schema.default, null, 2) : '', required: Boolean(schema.required)});
    read = () => {
      if (input.value.trim() === '') return {skip: true};
      let v;
      try {
        v = JSON.parse(input.value);
      } catch (e) {
        throw new Error(`not valid JSON: ${e.message}`);
      }
      const isArray = Array.isArray(v);
      if (type === 'array' ? !isArray : (isArray || v === null || typeof v !== 'object')) {
        throw new Error(`must be a JSON ${type}`);
      }
      return {value: v};
    };
  } else {
    const long = hasDefault && String(schema.default).includes('\n');
    input = h(long ? 'textarea' : 'input', {...common, type: schema.secret ? 'password' : 'text',
      autocomplete: schema.secret ? 'new-password' : 'off', rows: long ? 4 : undefined,
      value: hasDefault && typeof schema.default !== 'object' ? String(schema.default) : '',
      required: Boolean(schema.required)});
    read = () => (input.value === '' ? {skip: true} : {value: input.value});
  }
  const label = h('label', {for: id}, name, schema.required ? h('span', {class: 'req', title: 'required'}, ' *') : null,
    h('span', {class: 'type'}, ` ${type}${schema.secret ? ', secret' : ''}`));
  const row = h('div', {class: `field${type === 'boolean' ? ' check' : ''}`}, label, input, help, error);
  const show = (text) => {
    replace(error, text || '');
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  return {name, row, input, read, show, required: Boolean(schema.required)};
}

/**
 * The parameter a server error names: `parameter "cmd": ...` → "cmd"; an inquiry's `field "response.reason"` →
 * "reason"; a pack config's `config property "step"` → "step" (a nested path's first part).
 */
export function parameterNamed(message) {
  const m = /(?:parameter|field|config property) "([^"]+)"/.exec(message || '');
  return m ? m[1].replace(/^response\./, '').split(/[.[]/)[0] : null;
}

/** An inquiry's JSON schema (an object's properties) as the parameter list runForm takes. */
export function schemaParameters(schema) {
  const required = new Set(Array.isArray(schema && schema.required) ? schema.required : []);
  return Object.entries((schema && schema.properties) || {}).map(([name, s]) =>
    [name, {...s, required: required.has(name) || s.required === true}]);
}

/**
 * runForm(parameters, submit(values) → Promise, {label, id, prefix}) → <form>. `parameters` as effectiveParameters
 * answers. Fields are checked before sending; an error thrown by `submit` is shown next to the field it names, else
 * above the button. `prefix` keeps field ids apart when a page has several forms.
 */
export function runForm(parameters, submit, {label = 'Run', id = 'run-form', prefix = 'p'} = {}) {
  const fields = parameters.map(([name, schema], i) => field(name, schema, `${prefix}-${i}`));
  const general = h('div', {'aria-live': 'polite'});
  const button = h('button', {type: 'submit'}, label);
  const form = h('form', {class: 'run', id, novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    replace(general);
    const values = {};
    let firstBad = null;
    for (const f of fields) {
      f.show('');
      try {
        const got = f.read();
        if (got.skip) {
          if (f.required) throw new Error('is required');
        } else {
          values[f.name] = got.value;
        }
      } catch (e) {
        f.show(e.message);
        firstBad = firstBad || f;
      }
    }
    if (firstBad) {
      firstBad.input.focus();
      return;
    }
    button.disabled = true;
    try {
      await submit(values);
    } catch (e) {
      const named = fields.find((f) => f.name === parameterNamed(e.message));
      if (named) {
        named.show(e.message);
        named.input.focus();
      } else {
        replace(general, errorBox(e));
      }
    } finally {
      button.disabled = false;
    }
  }},
  fields.length ? fields.map((f) => f.row) : h('p', {class: 'muted'}, 'This action takes no parameters.'),
  general, button);
  return form;
}
