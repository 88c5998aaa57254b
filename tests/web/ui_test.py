#!/usr/bin/python3
"""The web UI in a real browser: Debian's headless Chromium driven through chromedriver (python3-selenium)
against a real `squall server` (embedded Redis, temp data dir, free port on 127.0.0.1).

It logs in with the admin API key, opens the execution history in one window and runs core.local from its
generated form in another, then checks that the execution appears in the history without a reload and reaches
`succeeded` with its stdout; that a parameter holding `<img src=x onerror=alert(1)>` is shown as text (no img
element, no alert); that the server's error names the field (examples.greet, times above its maximum); the
history's filters, workflow timelines, inquiries, traces and the rule tester, the datastore, action aliases, API
keys, pack install and removal, pack config; password login; the security headers; and it measures the bytes of
the first load of `/`.

Usage: ui_test.py [path/to/squall]   (default: $SQUALL_BIN, else build-test/squall next to this repository)
Exit 77 (CTest's skip code) with a message when chromium, chromedriver or selenium is missing.
"""
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
XSS = '<img src=x onerror=alert(1)>'


def skip(why):
    print(f'ui_test: SKIPPED: {why} (deploy/deps.sh installs chromium, chromium-driver and python3-selenium)')
    sys.exit(77)


CHROMIUM = shutil.which('chromium')
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'
if not CHROMIUM:
    skip('chromium is not installed')
if not os.path.exists(CHROMEDRIVER):
    skip('chromedriver is not installed')
try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
except ImportError:
    skip('python3-selenium is not installed')


def wait_for(what, fn, timeout=20.0, interval=0.05):
    """Polls fn() until it returns a truthy value; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = fn()
            if value:
                return value
        except Exception as e:  # an element not there yet, a stale one after a redraw
            last_error = e
        time.sleep(interval)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}' +
                         (f' (last error: {last_error})' if last_error else ''))


def write_pack(data):
    """The pack `uit` under DATA/packs: `uit.flow`, an Orquesta workflow of two tasks in sequence, then a task
    over three items; `uit.slow`, a task of five seconds then another (to pause and resume); `uit.kinds`, an action
    with a parameter of each kind (the run form); an action alias of uit.flow with two formats (one with markup in
    its display text)."""
    pack = os.path.join(data, 'packs', 'uit')
    os.makedirs(os.path.join(pack, 'actions', 'workflows'))
    os.makedirs(os.path.join(pack, 'aliases'))
    files = {
        'pack.yaml': 'name: uit\ndescription: web UI test pack\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n',
        'actions/flow.yaml': 'name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\n'
                             'description: Two tasks in sequence.\n',
        'actions/workflows/flow.yaml': '''version: 1.0
tasks:
  prepare:
    action: core.local cmd="echo preparing; sleep 0.3"
    next:
      - when: "{{ succeeded() }}"
        do: finish
  finish:
    action: core.local cmd="echo finishing"
    next:
      - when: "{{ succeeded() }}"
        do: fan
  fan:
    with: x in {{ ['a', 'b', 'c'] }}
    action: core.local cmd="echo item-{{ item('x') }}"
''',
        'actions/slow.yaml': 'name: slow\nrunner_type: orquesta\nentry_point: workflows/slow.yaml\n',
        # A parameter of every kind the run form draws differently.
        'actions/kinds.yaml': '''name: kinds
runner_type: local-shell-cmd
description: One parameter of each kind.
parameters:
  cmd:
    default: echo kinds-ok
    immutable: true
  count:
    type: integer
    required: true
    description: How many times.
  ratio:
    type: number
    default: 0.5
  colour:
    type: string
    enum: [red, green, blue]
    default: green
    description: Which colour.
  loud:
    type: boolean
    default: true
  tags:
    type: array
    default: [a, b]
  extra:
    type: object
    description: Anything else, as JSON.
  token:
    type: string
    secret: true
    description: A secret.
''',
        'aliases/flow.yaml': 'name: run_flow\naction_ref: uit.flow\ndescription: Runs the flow from chat.\n'
                             'formats:\n  - "run flow"\n  - display: "flow <img src=x onerror=alert(1)> [n]"\n'
                             '    representation:\n      - "flow {{ n }}"\n',
        'actions/workflows/slow.yaml': '''version: 1.0
tasks:
  wait:
    action: core.local cmd="sleep 5"
    next:
      - when: "{{ succeeded() }}"
        do: after
  after:
    action: core.local cmd="echo after"
''',
    }
    for rel, text in files.items():
        with open(os.path.join(pack, rel), 'w') as f:
            f.write(text)


def click(driver, what, by, selector, timeout=20.0):
    """Finds and clicks in one step, again if the page redrew the element in between (live views redraw)."""
    wait_for(what, lambda: driver.find_element(by, selector).click() or True, timeout=timeout)


def git_pack(work, name='uigit', action='name: hello\nrunner_type: local-shell-cmd\ndescription: Says hello.\n'
             'parameters:\n  cmd:\n    default: echo hello\n'):
    """A pack `uigit` in a local git repository (installed from its file:// URL); with another name and an action
    that does not load, a pack the loader refuses."""
    repo = os.path.join(work, name)
    os.makedirs(os.path.join(repo, 'actions'))
    with open(os.path.join(repo, 'pack.yaml'), 'w') as f:
        f.write(f'name: {name}\ndescription: installed by the UI test\nversion: 1.2.3\nauthor: squall\n'
                'email: s@example.com\n')
    with open(os.path.join(repo, 'actions', 'hello.yaml'), 'w') as f:
        f.write(action)
    for args in (['init', '-q'], ['add', '-A'],
                 ['-c', 'user.name=ui', '-c', 'user.email=ui@localhost', 'commit', '-q', '-m', 'v1']):
        subprocess.run(['git', '-C', repo] + args, check=True, capture_output=True, timeout=30)
    return 'file://' + repo


class Server:
    """squall server on a free port with a temp data dir (embedded Redis), as tests/support's SquallProcess."""

    def __init__(self, binary, work):
        self.data = os.path.join(work, 'data')
        os.makedirs(self.data)
        write_pack(self.data)
        add = subprocess.run([binary, 'user', 'add', 'alice', '--data-dir', self.data],
                             input='alice-password-1\n', text=True, capture_output=True, timeout=60)
        if add.returncode != 0:
            raise AssertionError(f'squall user add failed: {add.stdout} {add.stderr}')
        self.log_path = os.path.join(work, 'squall.log')
        self.log = open(self.log_path, 'w')
        env = dict(os.environ, ASAN_OPTIONS=os.environ.get('ASAN_OPTIONS', 'detect_leaks=0'))
        self.proc = subprocess.Popen(
            [binary, 'server', '--data-dir', self.data, '--listen', '127.0.0.1:0', '--log-level', 'warn'],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.base = wait_for('the server banner', self._banner, timeout=60, interval=0.1)
        self.key = open(os.path.join(self.data, 'admin-api-key')).read().strip()

    def _banner(self):
        if self.proc.poll() is not None:
            raise SystemExit(f'squall server exited:\n{open(self.log_path).read()}')
        text = open(self.log_path).read()
        at = text.find('http://127.0.0.1:')
        if at < 0:
            return None
        end = text.find('/api/v1', at)
        return text[at:end] if end > at else None

    def api(self, method, path, body=None):
        req = urllib.request.Request(self.base + '/api/v1' + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={'St2-Api-Key': self.key, 'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def browser(work):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--no-first-run', '--disable-extensions', '--window-size=1280,900',
                f'--user-data-dir={os.path.join(work, "chromium")}'):
        opts.add_argument(arg)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def check_headers(server):
    with urllib.request.urlopen(server.base + '/', timeout=10) as res:
        csp = res.headers['Content-Security-Policy']
        assert csp and "default-src 'self'" in csp and "script-src 'self'" in csp and 'unsafe' not in csp, csp
        assert res.headers['X-Content-Type-Options'] == 'nosniff'
        assert res.headers['Content-Type'].startswith('text/html')
        assert res.headers['ETag'] and res.headers['Cache-Control'] == 'no-cache'
    with urllib.request.urlopen(server.base + '/executions/deep/link', timeout=10) as res:
        assert res.headers['Content-Type'].startswith('text/html'), 'a client-side path serves index.html'
    try:
        urllib.request.urlopen(server.base + '/api/v1/no-such-thing', timeout=10)
        raise AssertionError('/api/v1/no-such-thing answered 2xx')
    except urllib.error.HTTPError as e:
        assert e.code == 404 and 'faultstring' in json.loads(e.read()), 'API paths stay JSON 404s'


def first_load_bytes(driver):
    """Bytes transferred for the first load of / (document and every resource, headers included)."""
    return driver.execute_script("""
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return {transfer: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
                decoded: nav.decodedBodySize + res.reduce((n, r) => n + r.decodedBodySize, 0),
                files: 1 + res.length, interactive_ms: nav.domInteractive,
                ready_ms: (performance.getEntriesByName('squall-ready')[0] || {}).startTime || -1,
                loaded_ms: nav.loadEventEnd,
                paint_ms: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || -1};""")


def no_alert(driver):
    try:
        text = driver.switch_to.alert.text
        raise AssertionError(f'an alert was opened: {text!r}')
    except NoAlertPresentException:
        pass


# Every visible text in the page: its colour against the first opaque background behind it (WCAG contrast, 4.5:1;
# 3:1 for large text), skipping disabled controls; and whether the document is wider than the window.
LAYOUT_JS = """
const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
const bgOf = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const low = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  if (!n.textContent.trim() || seen.has(el) || !el.getClientRects().length) continue;
  if (el.closest('[hidden],noscript,.skip,.sr')) continue;  // .sr: visually hidden, for screen readers only
  if (el.closest('button:disabled,[disabled]')) continue;
  seen.add(el);
  const st = getComputedStyle(el);
  if (st.visibility === 'hidden' || Number(st.opacity) < 1) continue;
  const fg = rgb(st.color).slice(0, 3);
  const bg = bgOf(el);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
  const what = `${el.tagName.toLowerCase()}.${el.className} "${n.textContent.trim().slice(0, 30)}"`;
  if (ratio < (large ? 3 : 4.5)) low.push(`${what} ${ratio.toFixed(2)}`);
}
return {width: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), low: low.slice(0, 10),
        dark: matchMedia('(prefers-color-scheme: dark)').matches};
"""


def check_layout(driver, base, routes):
    """Each route at a phone's size (375 x 812) and a laptop's (1366 x 768), light and dark: no page wider than the
    screen (wide tables scroll inside their box) and every text readable against its background. The width is
    compared with the emulated one, not innerWidth: a phone's browser widens its viewport to a page too wide."""
    results = []
    try:
        for width, height, scheme in ((375, 812, 'dark'), (375, 812, 'light'), (1366, 768, 'dark'),
                                      (1366, 768, 'light')):
            driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride',
                                   {'width': width, 'height': height, 'deviceScaleFactor': 1, 'mobile': width < 640})
            driver.execute_cdp_cmd('Emulation.setEmulatedMedia',
                                   {'features': [{'name': 'prefers-color-scheme', 'value': scheme}]})
            for route in routes:
                driver.get(f'{base}/{route}')
                wait_for(f'{route} drawn', lambda: driver.find_element(By.CSS_SELECTOR, 'main h1') and not
                         driver.find_elements(By.XPATH, '//main//*[normalize-space(text())="Loading…"]'))
                r = driver.execute_script(LAYOUT_JS)
                assert r['dark'] == (scheme == 'dark'), r
                assert r['width'] <= width, f'{route} at {width} px is {r["width"]} px wide'
                assert not r['low'], f'{route} at {width} px, {scheme}: low contrast: {r["low"]}'
                results.append(route)
    finally:
        driver.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})
        driver.execute_cdp_cmd('Emulation.setEmulatedMedia', {'features': []})
    return len(results)


def check_run_form(driver, server):
    """uit.kinds' run form from its schema: each kind drawn as its control (enum: select, boolean: checkbox, array and
    object: JSON editors, secret: password field, number fields), required marked, defaults filled in, descriptions
    tied as help; bad JSON and a missing required value refused next to their fields before anything is sent; then
    run, its page shows the parameters with the secret masked and the status history with times."""
    driver.get(server.base + '/#/actions/uit.kinds')
    form = wait_for('the kinds form', lambda: driver.find_element(By.ID, 'run-form'))
    field = {f.get_attribute('data-param'): f for f in form.find_elements(By.CSS_SELECTOR, '[data-param]')}
    mine = ['colour', 'count', 'extra', 'loud', 'ratio', 'tags', 'token']  # and the runner's; cmd is immutable
    assert set(mine) <= set(field) and 'cmd' not in field, sorted(field)
    kind = {name: (field[name].tag_name, field[name].get_attribute('type')) for name in mine}
    assert kind == {'count': ('input', 'number'), 'ratio': ('input', 'number'), 'colour': ('select', 'select-one'),
                    'loud': ('input', 'checkbox'), 'tags': ('textarea', 'textarea'), 'extra': ('textarea', 'textarea'),
                    'token': ('input', 'password')}, kind
    order = [f.get_attribute('data-param') for f in form.find_elements(By.CSS_SELECTOR, '[data-param]')]
    assert order[:7] == ['count', 'colour', 'extra', 'loud', 'ratio', 'tags', 'token'], \
        f'required first, then the action\'s own before the runner\'s: {order}'
    label = form.find_element(By.CSS_SELECTOR, f'label[for="{field["count"].get_attribute("id")}"]')
    assert label.find_elements(By.CLASS_NAME, 'req'), 'count is marked required'
    assert not form.find_elements(By.CSS_SELECTOR, f'label[for="{field["ratio"].get_attribute("id")}"] .req')
    colour = Select(field['colour'])
    assert [o.text for o in colour.options] == ['(not given)', 'red', 'green', 'blue'], [o.text for o in colour.options]
    assert colour.first_selected_option.text == 'green', 'the default is selected'
    assert field['loud'].is_selected(), 'the boolean default is checked'
    assert json.loads(field['tags'].get_attribute('value')) == ['a', 'b'], 'the array default as JSON'
    assert field['ratio'].get_attribute('value') == '0.5'
    help_id = field['colour'].get_attribute('aria-describedby').split()[0]
    assert driver.find_element(By.ID, help_id).text == 'Which colour.', 'the description is the field\'s help'
    # Checked before sending: the missing required count and JSON that does not parse, each under its field.
    field['extra'].send_keys('{"a": ')
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    error = lambda name: driver.find_element(By.ID, field[name].get_attribute('id') + '-error').text  # noqa: E731
    wait_for('the errors under count and extra', lambda: 'required' in error('count') and 'JSON' in error('extra'))
    assert driver.switch_to.active_element == field['count'], 'the first bad field has the focus'
    assert '/actions/' in driver.current_url, 'nothing was sent'
    field['extra'].clear()
    field['extra'].send_keys('[1]')  # JSON, but not an object
    field['count'].send_keys('3')
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_for('extra must be an object', lambda: 'object' in error('extra') and not error('count'))
    field['extra'].clear()
    field['extra'].send_keys(json.dumps({'note': XSS}))
    colour.select_by_visible_text('blue')
    field['loud'].click()
    field['token'].send_keys('tok-s3cret-value')
    field['count'].send_keys(Keys.ENTER)
    wait_for('the kinds execution', lambda: '/executions/' in driver.current_url)
    run_id = driver.current_url.rsplit('/', 1)[1]
    wait_for('succeeded', lambda: driver.find_element(By.ID, 'status').text == 'succeeded')
    sent = server.api('GET', f'/executions/{run_id}')['parameters']
    assert sent['count'] == 3 and sent['colour'] == 'blue' and sent['loud'] is False and sent['tags'] == ['a', 'b'] \
        and sent['extra'] == {'note': XSS} and sent['ratio'] == 0.5, sent
    shown = wait_for('the parameters', lambda: driver.find_element(By.ID, 'parameters').text)
    assert 'tok-s3cret-value' not in shown and '********' in shown, f'the secret is masked: {shown}'
    assert 'tok-s3cret-value' not in driver.find_element(By.TAG_NAME, 'main').text
    assert XSS in shown and not driver.find_elements(By.TAG_NAME, 'img')
    history = [r.text for r in driver.find_elements(By.CSS_SELECTOR, 'main table.list tbody tr')]
    assert [r.split()[0] for r in history] == ['requested', 'scheduled', 'running', 'succeeded'], history
    assert all(len(r.split()) == 3 for r in history), f'each status with its date and time: {history}'
    no_alert(driver)


def check_keyboard(driver, base):
    """From the top of the history, Tab reaches the skip link first (Enter moves to the content), then the
    navigation in order, each with a visible focus ring; Enter follows a link; a run form is filled and sent by
    keyboard alone."""
    driver.get(f'{base}/#/executions')
    driver.refresh()  # a fresh document: Tab starts from its top
    wait_for('the history', lambda: driver.find_element(By.ID, 'executions'))
    ActionChains(driver).send_keys(Keys.TAB).perform()
    focused = driver.switch_to.active_element
    assert focused.get_attribute('class') == 'skip', focused.get_attribute('outerHTML')
    order = []
    for _ in range(12):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        el = driver.switch_to.active_element
        ring = driver.execute_script('const s = getComputedStyle(arguments[0]); return s.outlineStyle !== "none" && '
                                     'parseFloat(s.outlineWidth) >= 2', el)
        assert ring, f'no focus ring on {el.get_attribute("outerHTML")[:80]}'
        order.append(el.text or el.get_attribute('id'))
    assert order[:10] == ['Squall', 'Executions', 'Actions', 'Inquiries', 'Rules', 'Triggers', 'Aliases', 'Datastore',
                          'API keys', 'Log out'], order
    # The skip link moves the focus to the content.
    driver.refresh()
    wait_for('the history', lambda: driver.find_element(By.ID, 'executions'))
    ActionChains(driver).send_keys(Keys.TAB).perform()
    wait_for('the skip link focused', lambda: driver.switch_to.active_element.get_attribute('class') == 'skip')
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_for('the content focused', lambda: driver.switch_to.active_element.get_attribute('id') == 'main')
    assert driver.current_url.endswith('#/executions'), f'the skip link left the route: {driver.current_url}'
    assert driver.find_elements(By.ID, 'executions'), 'the history is still shown'

    def tab_to(what, test, limit=40):
        for _ in range(limit):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            el = driver.switch_to.active_element
            assert driver.execute_script('const s = getComputedStyle(arguments[0]); return s.outlineStyle !== "none" '
                                         '&& parseFloat(s.outlineWidth) >= 2', el), \
                f'no focus ring on {el.get_attribute("outerHTML")[:80]}'
            if test(el):
                return el
        raise AssertionError(f'Tab never reached {what}')
    # Enter on a navigation link follows it.
    driver.refresh()
    wait_for('the history', lambda: driver.find_element(By.ID, 'executions'))
    tab_to('the Actions link', lambda el: el.text == 'Actions')
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_for('the catalog, by keyboard', lambda: driver.current_url.endswith('#/actions') and
             driver.find_elements(By.CSS_SELECTOR, 'section[data-pack]'))
    # A run form by keyboard alone: Tab from the first field to its button, then Enter runs it.
    driver.get(f'{base}/#/actions/examples.greet')
    wait_for('the greet form, its first field focused',
             lambda: driver.switch_to.active_element.get_attribute('data-param') == 'name')
    tab_to('the Run button', lambda el: el.tag_name == 'button' and el.text == 'Run')
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_for('the run, by keyboard', lambda: '/executions/' in driver.current_url and
             driver.find_element(By.ID, 'status').text == 'succeeded')


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        'SQUALL_BIN', os.path.join(ROOT, 'build-test', 'squall'))
    if not os.access(binary, os.X_OK):
        raise SystemExit(f'ui_test: no squall binary at {binary}')
    work = tempfile.mkdtemp(prefix='squall-ui-')
    server = driver = None
    try:
        server = Server(binary, work)
        check_headers(server)
        driver = browser(work)
        driver.set_script_timeout(10)

        # --- login with the API key alone (Enter submits) -------------------------------------------------------
        # The first load of /: under 200 KB and usable (the login form drawn, app.js's mark). The 300 ms budget is a
        # performance figure, measured by bench/web_history.py on a quiet machine; here (an ASan server, ctest -j2
        # beside other tests) the figures are printed and only a gross regression fails: none of up to three loads
        # without the cache usable within 1.5 s, five times the budget. The first try is the browser's coldest.
        driver.execute_cdp_cmd('Network.enable', {})
        driver.execute_cdp_cmd('Network.setCacheDisabled', {'cacheDisabled': True})
        loads = []
        for _ in range(3):
            driver.get(server.base + '/')
            wait_for('the API key field', lambda: driver.find_element(By.ID, 'login-key'))
            wait_for('the load event', lambda: driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].loadEventEnd > 0"))
            sizes = first_load_bytes(driver)
            loads.append(sizes)
            print(f'ui_test: first load of /: {sizes["transfer"]} bytes transferred ({sizes["decoded"]} decoded) '
                  f'in {sizes["files"]} files; DOM interactive at {sizes["interactive_ms"]:.0f} ms, the login form '
                  f'usable (squall-ready) at {sizes["ready_ms"]:.0f} ms, loaded at '
                  f'{sizes["loaded_ms"]:.0f} ms, first contentful paint at {sizes["paint_ms"]:.0f} ms')
            assert sizes['transfer'] < 200 * 1024, sizes
            assert sizes['ready_ms'] > 0, 'app.js marks the moment the page is usable'
            if sizes['ready_ms'] < 300:
                break
        best = min(x['ready_ms'] for x in loads)
        print(f'ui_test: the login form usable at best at {best:.0f} ms '
              f'({"within" if best < 300 else "over"} the 300 ms budget)')
        assert best < 1500, f'the page was not usable within 1.5 s: {loads}'
        driver.execute_cdp_cmd('Network.setCacheDisabled', {'cacheDisabled': False})
        key = driver.find_element(By.ID, 'login-key')
        assert key.get_attribute('type') == 'password'
        key.send_keys(server.key, Keys.ENTER)
        wait_for('the execution history', lambda: driver.find_element(By.ID, 'executions'))
        assert driver.execute_script('return sessionStorage.length') == 1
        assert driver.execute_script('return document.cookie') == '', 'nothing in cookies'
        wait_for('the history to be live', lambda: 'live' in driver.find_element(By.CLASS_NAME, 'live').text)
        history = driver.current_window_handle

        # An execution created elsewhere appears in the open history without a reload.
        started = time.monotonic()
        other = server.api('POST', '/executions', {'action': 'core.local', 'parameters': {'cmd': 'true'}})
        wait_for('the API-created execution in the history',
                 lambda: driver.find_elements(By.CSS_SELECTOR, f'tr[data-id="{other["id"]}"]'), timeout=10)
        first_shown = time.monotonic() - started
        # Three more: the bound (1 s) on their median. The first can be slower: the server reads execution
        # events only while a client wants them, from its next blocking read of the streams on.
        shown = []
        for _ in range(3):
            another = server.api('POST', '/executions', {'action': 'core.noop', 'parameters': {}})
            posted = time.monotonic()
            wait_for('another execution in the history', lambda: driver.find_elements(
                By.CSS_SELECTOR, f'tr[data-id="{another["id"]}"]'), timeout=10, interval=0.01)
            shown.append(time.monotonic() - posted)
        print(f'ui_test: a new execution appeared in the open history {first_shown:.3f} s after POST /executions '
              f'answered; the next three after {", ".join(f"{x:.3f}" for x in shown)} s')
        assert sorted(shown)[1] < 1.0, f'new executions appear within 1 s: {shown}'

        # --- run core.local from its form, in a second window ---------------------------------------------------
        # sessionStorage is per window: the second one logs in too, and lands on the page it was opened at.
        driver.switch_to.new_window('window')
        driver.get(server.base + '/#/actions')
        wait_for('the API key field', lambda: driver.find_element(By.ID, 'login-key')).send_keys(server.key, Keys.ENTER)
        wait_for('core.local in the catalog', lambda: driver.find_element(By.LINK_TEXT, 'local')).click()
        form = wait_for('the run form', lambda: driver.find_element(By.ID, 'run-form'))
        cmd = form.find_element(By.CSS_SELECTOR, '[data-param="cmd"]')
        form.submit()  # cmd is required: checked before anything is sent
        wait_for('the required error next to cmd', lambda: 'required' in driver.find_element(
            By.ID, cmd.get_attribute('id') + '-error').text)
        assert not form.find_elements(By.CSS_SELECTOR, '[data-param="sudo"]'), 'immutable parameters are not offered'
        cmd.send_keys(f"sleep 1; echo 'squall-ui-ok {XSS}'", Keys.ENTER)
        wait_for('the execution page', lambda: '/executions/' in driver.current_url)
        run_id = driver.current_url.rsplit('/', 1)[1]
        wait_for('succeeded', lambda: driver.find_element(By.ID, 'status').text == 'succeeded')
        wait_for('its stdout', lambda: 'squall-ui-ok' in driver.find_element(By.ID, 'stdout').text)
        assert XSS in driver.find_element(By.ID, 'parameters').text, 'the parameter is shown as it was given'
        assert XSS in driver.find_element(By.ID, 'stdout').text
        assert not driver.find_elements(By.TAG_NAME, 'img'), 'no img element was created from API data'
        no_alert(driver)

        # The history window got it live: the row is there and succeeded.
        driver.switch_to.window(history)
        wait_for('the form-run execution in the history (no reload)',
                 lambda: driver.find_element(By.CSS_SELECTOR, f'tr[data-id="{run_id}"]').get_attribute(
                     'data-status') == 'succeeded', timeout=10)
        assert not driver.find_elements(By.TAG_NAME, 'img')
        no_alert(driver)

        # A row redrawn by a live update keeps the keyboard's focus (its link is focused again in the new row).
        sleeper = server.api('POST', '/executions', {'action': 'core.local', 'parameters': {'cmd': 'sleep 1'}})
        link_css = f'#executions tr[data-id="{sleeper["id"]}"] a'
        wait_for('the running execution in the history', lambda: driver.execute_script(
            'const a = document.querySelector(arguments[0]); if (a) a.focus(); return a !== null;', link_css))
        wait_for('its row redrawn as succeeded', lambda: driver.find_element(
            By.CSS_SELECTOR, f'#executions tr[data-id="{sleeper["id"]}"]').get_attribute('data-status') == 'succeeded')
        assert driver.execute_script('return document.activeElement === document.querySelector(arguments[0])',
                                     link_css), 'the focus stayed on the redrawn row\'s link'

        # Filters: by status; by action (and paging) below.
        driver.get(server.base + '/#/executions?status=failed')
        wait_for('the filtered (empty) history',
                 lambda: 'No executions' in driver.find_element(By.CLASS_NAME, 'pagerow').text)
        Select(driver.find_element(By.ID, 'f-status')).select_by_value('succeeded')
        click(driver, 'Filter', By.CSS_SELECTOR, 'form.filters button[type=submit]')
        wait_for('the succeeded filter', lambda: driver.find_elements(By.CSS_SELECTOR, f'tr[data-id="{run_id}"]'))

        # By action (typed in its field, Enter), and paging: 55 more core.noop executions make a page of 50 and one
        # of the rest.
        for _ in range(55):
            server.api('POST', '/executions', {'action': 'core.noop', 'parameters': {}})
        noops = [e['id'] for e in server.api('GET', '/executions?action=core.noop&limit=100')]  # newest first
        n = len(noops)
        assert 55 <= n < 100, n
        driver.get(server.base + '/#/executions')
        action_field = wait_for('the action filter', lambda: driver.find_element(By.ID, 'f-action'))
        Select(driver.find_element(By.ID, 'f-status')).select_by_value('')
        action_field.send_keys('core.noop', Keys.ENTER)
        rows_now = lambda: [r.get_attribute('data-id') for r in driver.find_elements(  # noqa: E731
            By.CSS_SELECTOR, '#executions tr[data-id]')]
        counter = lambda: driver.find_element(By.CLASS_NAME, 'pagerow').text  # noqa: E731
        wait_for('the first page of core.noop', lambda: f'1–50 of {n}' in counter() and rows_now() == noops[:50])
        assert 'action=core.noop' in driver.current_url
        click(driver, 'Older', By.LINK_TEXT, 'Older →')
        wait_for('the second page', lambda: f'51–{n} of {n}' in counter() and rows_now() == noops[50:])
        assert not driver.find_elements(By.LINK_TEXT, 'Older →')
        click(driver, 'Newer', By.LINK_TEXT, '← Newer')
        wait_for('the first page again', lambda: f'1–50 of {n}' in counter() and rows_now() == noops[:50])

        # --- the server's error goes next to the field it names --------------------------------------------------
        driver.get(server.base + '/#/actions/examples.greet')
        form = wait_for('the greet form', lambda: driver.find_element(By.ID, 'run-form'))
        times = form.find_element(By.CSS_SELECTOR, '[data-param="times"]')
        assert times.get_attribute('value') == '1', 'defaults are filled in'
        times.clear()
        times.send_keys('500', Keys.ENTER)
        error = wait_for('the server error next to times', lambda: driver.find_element(
            By.ID, times.get_attribute('id') + '-error').text)
        assert 'times' in error, error
        assert '/actions/' in driver.current_url, 'nothing ran'

        # --- a run form of every kind of parameter; the run's page: the secret masked, the status history -------
        check_run_form(driver, server)

        # --- the execution page of the API-created one, re-run ---------------------------------------------------
        driver.get(server.base + f'/#/executions/{other["id"]}')
        wait_for('its status', lambda: driver.find_element(By.ID, 'status').text == 'succeeded')
        click(driver, 're-run', By.ID, 'rerun')
        wait_for('the re-run execution', lambda: other['id'] not in driver.current_url)
        wait_for('the re-run succeeded', lambda: driver.find_element(By.ID, 'status').text == 'succeeded')

        # --- stdout streams while the execution runs ----------------------------------------------------------------
        slow = server.api('POST', '/executions', {'action': 'core.local', 'parameters': {
            'cmd': 'for i in 1 2 3 4 5 6 7 8; do echo line$i; sleep 1; done'}})
        driver.get(server.base + f'/#/executions/{slow["id"]}')
        wait_for('line1 while it runs', lambda: 'line1' in driver.find_element(By.ID, 'stdout').text and
                 driver.find_element(By.ID, 'status').text == 'running')
        wait_for('line8 and succeeded', lambda: driver.find_element(By.ID, 'status').text == 'succeeded' and
                 'line8' in driver.find_element(By.ID, 'stdout').text)
        assert driver.find_element(By.ID, 'stdout').text.split() == [f'line{i}' for i in range(1, 9)], \
            driver.find_element(By.ID, 'stdout').text

        # --- cancel a running execution -----------------------------------------------------------------------
        long = server.api('POST', '/executions', {'action': 'core.local', 'parameters': {'cmd': 'sleep 60'}})
        driver.get(server.base + f'/#/executions/{long["id"]}')
        wait_for('it to run', lambda: driver.find_element(By.ID, 'status').text == 'running')
        click(driver, 'Cancel', By.ID, 'cancel')
        wait_for('canceled', lambda: driver.find_element(By.ID, 'status').text == 'canceled')
        wait_for('no Cancel button once canceled', lambda: not driver.find_elements(By.ID, 'cancel'))

        # --- pause a running workflow, then resume it ------------------------------------------------------------
        slow_flow = server.api('POST', '/executions', {'action': 'uit.slow', 'parameters': {}})
        driver.get(server.base + f'/#/executions/{slow_flow["id"]}')
        wait_for('the workflow to run', lambda: driver.find_element(By.ID, 'status').text == 'running')
        click(driver, 'Pause', By.ID, 'pause')  # while its first task (5 s) runs
        wait_for('paused (once its running task ended)',
                 lambda: driver.find_element(By.ID, 'status').text == 'paused', timeout=30)
        click(driver, 'Resume', By.ID, 'resume')
        wait_for('the resumed workflow to succeed',
                 lambda: driver.find_element(By.ID, 'status').text == 'succeeded', timeout=30)
        wait_for('both tasks on its timeline', lambda: len(driver.find_elements(
            By.CSS_SELECTOR, '#timeline .bar.s-succeeded')) == 2)

        # --- a workflow's timeline: a bar per task, each a link to the task's execution ---------------------------
        flow = server.api('POST', '/executions', {'action': 'uit.flow', 'parameters': {}})
        driver.get(server.base + f'/#/executions/{flow["id"]}')
        wait_for('the workflow to succeed', lambda: driver.find_element(By.ID, 'status').text == 'succeeded',
                 timeout=30)

        def timeline():  # (task, bar width, execution id, text) per row once all three are succeeded; in one go
            rows = driver.find_elements(By.CSS_SELECTOR, '#timeline li')
            if len(rows) != 3 or len(driver.find_elements(By.CSS_SELECTOR, '#timeline .bar.s-succeeded')) != 3:
                return None
            return [(r.find_element(By.CLASS_NAME, 'task').text, r.find_element(By.CLASS_NAME, 'bar').size['width'],
                     r.get_attribute('data-id'), r.text) for r in rows]
        rows = wait_for('three finished tasks on the timeline', timeline)
        assert [r[0] for r in rows] == ['prepare', 'finish', 'fan'], rows
        assert rows[0][1] > rows[1][1], f'prepare (0.3 s) has the longer bar: {rows}'
        assert '3 items: 3 succeeded' in rows[2][3], rows[2][3]  # with-items: one row, counted
        assert len(driver.find_elements(By.CSS_SELECTOR, '#timeline li.items .itemline a')) == 3
        # Each bar names its start and end (tooltip and screen-reader text), in order along the workflow.
        bars = [(b.get_attribute('data-start'), b.get_attribute('data-end'), b.get_attribute('title'))
                for b in driver.find_elements(By.CSS_SELECTOR, '#timeline .bar')]
        assert all(re.fullmatch(r'\d\d:\d\d:\d\d\.\d{3}', t) for b in bars for t in b[:2]), bars
        assert all(b[2] == f'succeeded, {b[0]} → {b[1]} ({b[2].split("(")[1]}' for b in bars), bars
        assert bars[0][0] <= bars[0][1] <= bars[1][0] <= bars[1][1] <= bars[2][0], f'in sequence: {bars}'
        click(driver, 'the finish task', By.CSS_SELECTOR, f'#timeline li[data-id="{rows[1][2]}"] .task')
        wait_for('the task\'s execution', lambda: flow['id'] not in driver.current_url)
        wait_for('its parent link', lambda: driver.find_element(By.LINK_TEXT, flow['id']))
        wait_for('its stdout', lambda: 'finishing' in driver.find_element(By.ID, 'stdout').text)

        # --- an inquiry appears while the page is open and is answered from the form of its schema -------------
        driver.get(server.base + '/#/inquiries')
        wait_for('the inquiries page', lambda: 'No inquiry' in driver.find_element(By.ID, 'inquiries').text)
        ask = server.api('POST', '/executions', {'action': 'core.ask', 'parameters': {'schema': {
            'type': 'object', 'properties': {
                'approved': {'type': 'boolean', 'description': 'Go ahead?', 'required': True},
                'reason': {'type': 'string', 'minLength': 3, 'description': 'Why'}}}}})
        card = wait_for('the inquiry, live',
                        lambda: driver.find_element(By.CSS_SELECTOR, f'section[data-id="{ask["id"]}"]'))
        reason = card.find_element(By.CSS_SELECTOR, '[data-param="reason"]')
        reason.send_keys('no', Keys.ENTER)  # shorter than minLength: the server's error goes next to the field
        wait_for('the server error next to reason', lambda: 'reason' in driver.find_element(
            By.ID, reason.get_attribute('id') + '-error').text)
        reason.clear()
        reason.send_keys('looks fine')
        card.find_element(By.CSS_SELECTOR, '[data-param="approved"]').click()
        card.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
        wait_for('the answer', lambda: 'Answered' in card.text)
        answered = wait_for('the inquiry to succeed', lambda: (lambda e: e if e['status'] == 'succeeded' else None)(
            server.api('GET', f'/executions/{ask["id"]}')))
        assert answered['result']['response'] == {'approved': True, 'reason': 'looks fine'}, answered['result']

        # --- a webhook's trace: the rule that matched and its execution, the rule that did not and why -----------
        for body in ({'name': 'bob'}, {'nom': 'bob'}):
            req = urllib.request.Request(server.base + '/api/v1/webhooks/sample', method='POST',
                                         data=json.dumps(body).encode(),
                                         headers={'St2-Api-Key': server.key, 'Content-Type': 'application/json'})
            urllib.request.urlopen(req, timeout=30).read()
        instances = wait_for('two processed trigger instances', lambda: (lambda l: l if len(l) == 2 and all(
            i['status'] == 'processed' for i in l) else None)(server.api('GET', '/triggerinstances?limit=2')))
        missed, matched = instances  # newest first
        driver.get(server.base + '/#/traces')
        click(driver, 'the trigger instance in the list', By.CSS_SELECTOR, f'tr[data-id="{matched["id"]}"] a')
        decision = wait_for('the matching rule', lambda: driver.find_element(
            By.CSS_SELECTOR, '.decision[data-rule="examples.sample_webhook"]'))
        assert 'not matched' not in decision.text and 'matched' in decision.text, decision.text
        wait_for('the execution it caused', lambda: 'examples.greet' in driver.find_element(By.CLASS_NAME, 'tree').text)
        driver.get(server.base + f'/#/traces/{missed["id"]}')
        decision = wait_for('the rule that did not match', lambda: driver.find_element(
            By.CSS_SELECTOR, '.decision.missed[data-rule="examples.sample_webhook"]'))
        assert 'trigger.body.name exists' in decision.text and 'failed' in decision.text, decision.text
        # Re-emitting the matching one runs its rule again: a new trace with a new execution.
        driver.get(server.base + f'/#/traces/{matched["id"]}')
        click(driver, 'Re-emit', By.ID, 're-emit')
        copy_link = wait_for('the re-emitted instance', lambda: driver.find_element(By.CSS_SELECTOR, '[role=status] a'))
        copy_id = copy_link.text
        assert copy_id and copy_id != matched['id']
        wait_for('the copy processed by the rules', lambda: server.api('GET', f'/traces/{copy_id}')['executions'])
        copy_link.click()
        wait_for('the copy\'s trace with its execution', lambda: copy_id in driver.current_url and
                 'examples.greet' in driver.find_element(By.CLASS_NAME, 'tree').text)

        # --- rules: disable and enable again --------------------------------------------------------------------
        driver.get(server.base + '/#/rules')
        wait_for('the rule, enabled', lambda: driver.find_element(
            By.CSS_SELECTOR, 'tr[data-ref="examples.sample_webhook"] button').text == 'Disable')
        click(driver, 'Disable', By.CSS_SELECTOR, 'tr[data-ref="examples.sample_webhook"] button')
        wait_for('the rule disabled', lambda: driver.find_element(
            By.CSS_SELECTOR, 'tr[data-ref="examples.sample_webhook"] button').text == 'Enable')
        assert server.api('GET', '/rules/examples.sample_webhook')['enabled'] is False
        click(driver, 'Enable', By.CSS_SELECTOR, 'tr[data-ref="examples.sample_webhook"] button')
        wait_for('the rule enabled', lambda: server.api('GET', '/rules/examples.sample_webhook')['enabled'] is True)

        # --- the rule tester: on a trace's page (any rule on its trigger, or a decision's Test button) -------------
        driver.get(server.base + f'/#/traces/{missed["id"]}')
        wait_for('the rule in the tester', lambda: Select(driver.find_element(By.ID, 'test-rule')).options)
        Select(driver.find_element(By.ID, 'test-rule')).select_by_value('examples.sample_webhook')
        click(driver, 'Test', By.ID, 'rule-test')
        result = wait_for('the tester\'s verdict', lambda: driver.find_element(By.ID, 'rule-test-result'))
        assert 'Does not match' in result.text, result.text
        assert 'First failing criterion: trigger.body.name exists' in result.text, result.text
        assert result.find_elements(By.CSS_SELECTOR, 'tr.first-failed'), 'the failing criterion is marked'
        driver.get(server.base + f'/#/traces/{matched["id"]}')
        click(driver, 'the decision\'s Test button',
              By.CSS_SELECTOR, '.decision[data-rule="examples.sample_webhook"] button.test-rule')
        wait_for('a match with the rendered parameters', lambda: 'Matches' in driver.find_element(
            By.ID, 'rule-test-result').text and json.loads(driver.find_element(
                By.ID, 'rule-test-parameters').text) == {'name': 'bob'})
        # ... and on the rule's page, against a payload given there (with markup: shown as text) and an instance.
        driver.get(server.base + '/#/rules')
        click(driver, 'the rule\'s page', By.LINK_TEXT, 'examples.sample_webhook')
        payload = wait_for('the tester form', lambda: driver.find_element(By.ID, 'test-payload'))
        payload.send_keys(json.dumps({'body': {'name': XSS}}))
        click(driver, 'Test', By.ID, 'rule-test')
        wait_for('a match on the given payload', lambda: 'Matches' in driver.find_element(
            By.ID, 'rule-test-result').text and json.loads(driver.find_element(
                By.ID, 'rule-test-parameters').text) == {'name': XSS})
        assert not driver.find_elements(By.TAG_NAME, 'img')
        no_alert(driver)
        payload.clear()
        driver.find_element(By.ID, 'test-instance').send_keys(missed['id'])
        click(driver, 'Test', By.ID, 'rule-test')
        wait_for('no match on the stored instance', lambda: 'Does not match' in driver.find_element(
            By.ID, 'rule-test-result').text)

        # --- the history filtered by rule (from the form) and by trigger type -----------------------------------
        by_rule = [e['id'] for e in server.api('GET', '/executions?rule=examples.sample_webhook&limit=100')]
        assert len(by_rule) == 2, by_rule  # the matching webhook and its re-emitted copy
        driver.get(server.base + '/#/executions')
        rule_field = wait_for('the rule filter', lambda: driver.find_element(By.ID, 'f-rule'))
        rule_field.send_keys('examples.sample_webhook', Keys.ENTER)
        wait_for('only the rule\'s executions', lambda: sorted(
            r.get_attribute('data-id') for r in driver.find_elements(By.CSS_SELECTOR, '#executions tr[data-id]'))
            == sorted(by_rule))
        assert 'rule=examples.sample_webhook' in driver.current_url
        driver.get(server.base + '/#/executions?trigger_type=core.st2.webhook')
        wait_for('the webhook\'s executions', lambda: sorted(
            r.get_attribute('data-id') for r in driver.find_elements(By.CSS_SELECTOR, '#executions tr[data-id]'))
            == sorted(by_rule))
        driver.get(server.base + '/#/executions?trigger_type=core.st2.IntervalTimer')
        wait_for('no timer executions', lambda: 'No executions' in driver.find_element(By.CLASS_NAME, 'pagerow').text)

        # --- action aliases with their formats (as text) ---------------------------------------------------------
        driver.get(server.base + '/#/aliases')
        alias = wait_for('the alias', lambda: driver.find_element(By.CSS_SELECTOR, 'tr[data-ref="uit.run_flow"]'))
        assert 'run flow' in alias.text and 'flow {{ n }}' in alias.text and XSS in alias.text, alias.text
        assert 'uit.flow' in alias.text
        assert not driver.find_elements(By.TAG_NAME, 'img')
        no_alert(driver)

        # --- API keys: create one (shown once), use it, disable it, delete it ----------------------------------
        driver.get(server.base + '/#/apikeys')
        wait_for('the list of keys', lambda: driver.find_elements(By.CSS_SELECTOR, '#apikeys tr'))
        before = {k['id'] for k in server.api('GET', '/apikeys')}
        driver.find_element(By.ID, 'ak-user').send_keys('alice')
        driver.find_element(By.ID, 'ak-metadata').send_keys('not json')
        click(driver, 'Create a key', By.CSS_SELECTOR, '#apikey-create button[type=submit]')
        wait_for('the metadata error', lambda: 'metadata' in driver.find_element(By.ID, 'ak-metadata-error').text)
        driver.find_element(By.ID, 'ak-metadata').clear()
        driver.find_element(By.ID, 'ak-metadata').send_keys(json.dumps({'used_by': XSS}))
        click(driver, 'Create a key', By.CSS_SELECTOR, '#apikey-create button[type=submit]')
        new_key = wait_for('the new key, shown once',
                           lambda: driver.find_element(By.ID, 'apikey-new').get_attribute('value'))
        created = [k for k in server.api('GET', '/apikeys') if k['id'] not in before]
        assert len(created) == 1 and created[0]['user'] == 'alice', created
        key_id = created[0]['id']
        row_css = f'#apikeys tr[data-id="{key_id}"]'
        wait_for('the new key in the list', lambda: XSS in driver.find_element(By.CSS_SELECTOR, row_css).text)
        assert new_key not in driver.find_element(By.ID, 'apikeys').text, 'the key itself is not in the list'
        assert not driver.find_elements(By.TAG_NAME, 'img')

        def whoami(k):
            req = urllib.request.Request(server.base + '/api/v1/user', headers={'St2-Api-Key': k})
            try:
                with urllib.request.urlopen(req, timeout=10) as res:
                    return json.loads(res.read())['username']
            except urllib.error.HTTPError as e:
                return e.code
        assert whoami(new_key) == 'alice'
        click(driver, 'Disable', By.CSS_SELECTOR, f'{row_css} button[aria-pressed]')
        wait_for('the key disabled', lambda: driver.find_element(By.CSS_SELECTOR, row_css).get_attribute(
            'data-enabled') == 'false')
        wait_for('the disabled key refused', lambda: whoami(new_key) == 401)
        click(driver, 'Delete', By.CSS_SELECTOR, f'{row_css} button.danger')
        wait_for('the confirmation', lambda: driver.switch_to.alert).accept()
        wait_for('the key gone', lambda: not driver.find_elements(By.CSS_SELECTOR, row_css))
        assert key_id not in {k['id'] for k in server.api('GET', '/apikeys')}

        # --- datastore: set a plain and a secret key, the secret shown masked; delete one ------------------------
        driver.get(server.base + '/#/keys')
        for key_name, value, is_secret in (('ui_plain', f'v {XSS}', False), ('ui_secret', 's3cret-value', True)):
            name_field = wait_for('the key form', lambda: driver.find_element(By.ID, 'k-name'))
            name_field.clear()
            name_field.send_keys(key_name)
            driver.find_element(By.ID, 'k-value').send_keys(value)
            if is_secret:
                driver.find_element(By.ID, 'k-secret').click()
            click(driver, 'Set', By.CSS_SELECTOR, '#key-set button[type=submit]')
            wait_for(f'{key_name} in the list', lambda: driver.find_elements(
                By.CSS_SELECTOR, f'#keys tr[data-name="{key_name}"]'))
        keys_text = driver.find_element(By.ID, 'keys').text
        assert XSS in keys_text and 's3cret-value' not in keys_text and '********' in keys_text, keys_text
        assert not driver.find_elements(By.TAG_NAME, 'img')
        click(driver, 'Delete ui_plain', By.CSS_SELECTOR, '#keys tr[data-name="ui_plain"] button')
        wait_for('the confirmation', lambda: driver.switch_to.alert).accept()
        wait_for('ui_plain gone', lambda: not driver.find_elements(By.CSS_SELECTOR, '#keys tr[data-name="ui_plain"]'))
        stored = server.api('GET', '/keys?scope=all')
        assert [k['name'] for k in stored] == ['ui_secret'], stored

        # --- install a pack from a git URL; its execution shows the progress -------------------------------------
        driver.get(server.base + '/#/actions')
        click(driver, 'Install a pack', By.CSS_SELECTOR, '.install summary')
        driver.find_element(By.ID, 'pack-url').send_keys(git_pack(work), Keys.ENTER)
        wait_for('the install execution', lambda: '/executions/' in driver.current_url)
        wait_for('the install to succeed', lambda: driver.find_element(By.ID, 'status').text == 'succeeded',
                 timeout=60)
        driver.get(server.base + '/#/actions')
        wait_for('the installed pack in the catalog',
                 lambda: 'Says hello.' in driver.find_element(By.ID, 'catalog').text)
        assert not driver.find_elements(By.CSS_SELECTOR, 'section[data-pack="core"] button.remove-pack'), \
            'a bundled pack offers no Remove button'

        # A pack the loader refuses: the install fails and its page says where, file:line:column, at the top.
        click(driver, 'Install a pack', By.CSS_SELECTOR, '.install summary')
        driver.find_element(By.ID, 'pack-url').send_keys(
            git_pack(work, 'uibad', 'name: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd: [unclosed\n'),
            Keys.ENTER)
        wait_for('the failing install execution', lambda: '/executions/' in driver.current_url)
        bad_install = driver.current_url.rsplit('/', 1)[1]
        wait_for('the install to fail', lambda: driver.find_element(By.ID, 'status').text == 'failed', timeout=60)
        failure = wait_for('the loader\'s error at the top', lambda: driver.find_element(By.ID, 'failure').text)
        assert re.search(r'uibad/actions/hello\.yaml:\d+:\d+: invalid YAML', failure), failure
        assert 'uibad' not in {p.get('ref') or p.get('name') for p in server.api('GET', '/packs?limit=1000')}
        driver.get(server.base + '/#/actions')

        # --- remove it again from the catalog (confirmed first); the uninstall is an execution too ---------------
        click(driver, 'Remove uigit', By.CSS_SELECTOR, 'section[data-pack="uigit"] button.remove-pack')
        wait_for('the confirmation', lambda: driver.switch_to.alert).dismiss()  # changed our mind: nothing happens
        assert '/actions' in driver.current_url
        click(driver, 'Remove uigit', By.CSS_SELECTOR, 'section[data-pack="uigit"] button.remove-pack')
        wait_for('the confirmation', lambda: driver.switch_to.alert).accept()
        wait_for('the uninstall execution', lambda: '/executions/' in driver.current_url)
        wait_for('the uninstall to succeed', lambda: driver.find_element(By.ID, 'status').text == 'succeeded',
                 timeout=60)
        driver.get(server.base + '/#/actions')
        wait_for('the catalog without uigit', lambda: driver.find_elements(By.CSS_SELECTOR, 'section[data-pack]') and
                 not driver.find_elements(By.CSS_SELECTOR, 'section[data-pack="uigit"]'))
        assert 'uigit' not in {p.get('ref') or p.get('name') for p in server.api('GET', '/packs?limit=1000')}

        # --- a pack's config from its schema: the server's error under the field, then saved -------------------
        driver.get(server.base + '/#/actions')
        click(driver, 'configure examples', By.CSS_SELECTOR, 'a[href="#/packs/examples/config"]')
        step = wait_for('the config form',
                        lambda: driver.find_element(By.CSS_SELECTOR, '#config-form [data-param="step"]'))
        step.clear()
        step.send_keys('0', Keys.ENTER)  # below its minimum
        wait_for('the server error under step', lambda: 'step' in driver.find_element(
            By.ID, step.get_attribute('id') + '-error').text)
        step.clear()
        step.send_keys('5', Keys.ENTER)
        wait_for('saved', lambda: 'Saved' in driver.find_element(By.TAG_NAME, 'main').text)
        assert server.api('GET', '/configs/examples')['values']['step'] == 5

        # --- item 8: phone and laptop widths, light and dark; keyboard navigation ------------------------------
        checked = check_layout(driver, server.base, [
            '#/executions', f'#/executions/{flow["id"]}', '#/actions', '#/actions/core.local',
            '#/packs/examples/config', '#/inquiries', '#/rules', '#/rules/examples.sample_webhook', '#/traces',
            f'#/traces/{matched["id"]}', f'#/traces/{missed["id"]}', '#/keys', '#/apikeys', '#/aliases',
            f'#/executions/{bad_install}', '#/actions/uit.kinds'])
        print(f'ui_test: {checked} pages checked at 375 x 812 and 1366 x 768, light and dark: no horizontal '
              'overflow, every text at least 4.5:1 (3:1 large)')
        check_keyboard(driver, server.base)

        # --- password login ---------------------------------------------------------------------------------------
        click(driver, 'Log out', By.ID, 'logout')
        user = wait_for('the login form', lambda: driver.find_element(By.ID, 'login-user'))
        assert driver.execute_script('return sessionStorage.length') == 0
        user.send_keys('alice')
        driver.find_element(By.ID, 'login-password').send_keys('wrong', Keys.ENTER)
        wait_for('the login error', lambda: driver.find_element(By.CSS_SELECTOR, '.error[role=alert]'))
        pw = driver.find_element(By.ID, 'login-password')
        pw.clear()
        pw.send_keys('alice-password-1', Keys.ENTER)
        wait_for('alice\'s history', lambda: driver.find_element(By.ID, 'who').text == 'alice')
        wait_for('the history table', lambda: driver.find_element(By.ID, 'executions'))

        # Nothing broke the Content-Security-Policy (it would be logged as a console error).
        problems = [e for e in driver.get_log('browser') if e['level'] == 'SEVERE' and
                    ('Content Security Policy' in e['message'] or 'Uncaught' in e['message'])]
        assert not problems, problems
        print('ui_test: all checks passed')
    except BaseException:
        if driver:  # what the page showed, for the failure's message
            try:
                print(f'ui_test: FAILED at {driver.current_url}; the page said:\n'
                      f'{driver.find_element(By.TAG_NAME, "main").text[:3000]}\nbrowser console: '
                      f'{driver.get_log("browser")}', file=sys.stderr)
            except Exception as e:
                print(f'ui_test: (no page state: {e})', file=sys.stderr)
            if server and '#/executions/' in driver.current_url:  # the server's view, to tell page from server
                try:
                    eid = driver.current_url.split('#/executions/')[1].split('?')[0]
                    e = server.api('GET', f'/executions/{eid}')
                    print(f'ui_test: the API says the execution is {e.get("status")}: '
                          f'{json.dumps(e.get("log"))}', file=sys.stderr)
                except Exception as e:
                    print(f'ui_test: (no execution from the API: {e})', file=sys.stderr)
        if server:
            print(f'ui_test: server log:\n{open(server.log_path).read()[-4000:]}', file=sys.stderr)
        raise
    finally:
        if driver:
            driver.quit()
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
