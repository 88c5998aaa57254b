#!/usr/bin/python3
"""The web UI in a real browser: Debian's headless Chromium driven through chromedriver (python3-selenium)
against a real `squall server` (embedded Redis, temp data dir, free port on 127.0.0.1).

It logs in with the admin API key, opens the execution history in one window and runs core.local from its
generated form in another, then checks that the execution appears in the history without a reload and reaches
`succeeded` with its stdout; that a parameter holding `<img src=x onerror=alert(1)>` is shown as text (no img
element, no alert); that the server's error names the field (examples.greet, times above its maximum); password
login; the security headers; and it measures the bytes of the first load of `/`.

Usage: ui_test.py [path/to/squall]   (default: $SQUALL_BIN, else build-test/squall next to this repository)
Exit 77 (CTest's skip code) with a message when chromium, chromedriver or selenium is missing.
"""
import json
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
    over three items; `uit.slow`, a task of five seconds then another (to pause and resume)."""
    pack = os.path.join(data, 'packs', 'uit')
    os.makedirs(os.path.join(pack, 'actions', 'workflows'))
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


def git_pack(work):
    """A pack `uigit` in a local git repository (installed from its file:// URL)."""
    repo = os.path.join(work, 'uigit')
    os.makedirs(os.path.join(repo, 'actions'))
    with open(os.path.join(repo, 'pack.yaml'), 'w') as f:
        f.write('name: uigit\ndescription: installed by the UI test\nversion: 1.2.3\nauthor: squall\n'
                'email: s@example.com\n')
    with open(os.path.join(repo, 'actions', 'hello.yaml'), 'w') as f:
        f.write('name: hello\nrunner_type: local-shell-cmd\ndescription: Says hello.\nparameters:\n'
                '  cmd:\n    default: echo hello\n')
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
                loaded_ms: nav.loadEventEnd,
                paint_ms: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || -1};""")


def no_alert(driver):
    try:
        text = driver.switch_to.alert.text
        raise AssertionError(f'an alert was opened: {text!r}')
    except NoAlertPresentException:
        pass


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
        driver.get(server.base + '/')
        key = wait_for('the API key field', lambda: driver.find_element(By.ID, 'login-key'))
        sizes = first_load_bytes(driver)
        print(f'ui_test: first load of /: {sizes["transfer"]} bytes transferred ({sizes["decoded"]} decoded) '
              f'in {sizes["files"]} files; DOM interactive at {sizes["interactive_ms"]:.0f} ms, loaded at '
              f'{sizes["loaded_ms"]:.0f} ms, first contentful paint at {sizes["paint_ms"]:.0f} ms')
        assert sizes['transfer'] < 200 * 1024, sizes
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
        print(f'ui_test: a new execution appeared in the open history {time.monotonic() - started:.3f} s '
              'after POST /executions answered')

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

        # Filters: by status, and by action.
        driver.get(server.base + '/#/executions?status=failed')
        wait_for('the filtered (empty) history',
                 lambda: 'No executions' in driver.find_element(By.CLASS_NAME, 'pagerow').text)
        Select(driver.find_element(By.ID, 'f-status')).select_by_value('succeeded')
        click(driver, 'Filter', By.CSS_SELECTOR, 'form.filters button[type=submit]')
        wait_for('the succeeded filter', lambda: driver.find_elements(By.CSS_SELECTOR, f'tr[data-id="{run_id}"]'))

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
