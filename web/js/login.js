// Login: a user and password (a token from /auth/v1/tokens) or an API key alone.
import {login, useApiKey} from './api.js';
import {h, replace, errorBox} from './dom.js';

export function loginView(main, {onLogin}) {
  const status = h('div', {'aria-live': 'polite'});
  const busy = async (form, fn) => {
    const button = form.querySelector('button');
    button.disabled = true;
    replace(status);
    try {
      await fn();
      onLogin();
    } catch (e) {
      replace(status, errorBox(e));
    } finally {
      button.disabled = false;
    }
  };

  const user = h('input', {id: 'login-user', name: 'username', autocomplete: 'username', required: true});
  const password = h('input', {id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true});
  const userForm = h('form', {class: 'card', id: 'login-form', onsubmit: (ev) => {
    ev.preventDefault();
    busy(userForm, () => login(user.value, password.value));
  }},
  h('h2', {}, 'User and password'),
  h('label', {for: 'login-user'}, 'User'), user,
  h('label', {for: 'login-password'}, 'Password'), password,
  h('button', {type: 'submit'}, 'Log in'));

  const key = h('input', {id: 'login-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true});
  const keyForm = h('form', {class: 'card', id: 'key-form', onsubmit: (ev) => {
    ev.preventDefault();
    busy(keyForm, () => useApiKey(key.value.trim()));
  }},
  h('h2', {}, 'API key'),
  h('label', {for: 'login-key'}, 'Key'), key,
  h('p', {class: 'help'}, 'Press Enter to log in with the key alone.'),
  h('button', {type: 'submit'}, 'Use key'));

  replace(main, h('h1', {}, 'Log in to Squall'), status, h('div', {class: 'login'}, userForm, keyForm));
  user.focus();
}
