import json
C = {
  "trigger": {"body": {"ref": "refs/heads/main", "n": 3, "f": 2.5, "neg": -7, "ok": True, "no": False, "none": None,
     "repository": {"full_name": "octo/repo", "name": "repo", "owner": {"login": "octo"}},
     "commits": [{"id": "abc", "msg": "Fix bug", "n": 2}, {"id": "def", "msg": "add feature", "n": 5}, {"id": "ghi", "msg": "Docs", "n": 1}],
     "list": ["a", 1, True, None, 2.5], "nums": [3, 1, 2, 5, 4], "words": ["beta", "alpha", "gamma"], "empty": [], "emptyd": {}, "es": "",
     "headers": {"X-Event": "push", "Content-Type": "application/json"}, "path": "/usr/local/bin/st2", "text": "  Hello World  ",
     "json": "{\"a\": 1, \"b\": [1, 2]}", "csv": "a,b,,c", "mixed": "hello WORLD foo-bar (baz)", "num_s": "42", "float_s": "3.75", "bad_s": "x12",
     "quote": "it's \"quoted\"", "nl": "line1\nline2", "utf": "h\u00e9llo \u00fc", "tags": ["x", "y", "x", "z"], "nested": [[1, 2], [3, 4]],
     "users": [{"name": "ann", "age": 31}, {"name": "bob", "age": 25}]}},
  "action_context": {"user": "stanley", "api_user": None},
  "config_context": {"region": "us-east-1", "retries": 3},
  "x": 10, "y": 3, "s": "abc", "b": True,
}
T = []
def t(tpl, ctx=None):
    T.append({"template": tpl, "context": C if ctx is None else ctx})

# --- literals & printing
for e in ["1", "-1", "1.5", "1e3", "2.0", "0.1", "1_000", "'str'", '"dq"', "'a' 'b'", "true", "True", "false", "none", "None",
          "[1, 'a', true, none]", "[]", "{'a': 1}", "{'a': [1, 2], 'b': {'c': none}}", "(1)", "1.0e-5", "123456789.125",
          "'it''s'", "'a\\nb'", "'tab\\there'", "\"it's\"", "'\\u00e9'", "[1.5, 2.0]", "10000000000000000.0", "0.0001", "0.00001"]:
    t("{{ %s }}" % e)
# --- variables / attribute / subscript
for e in ["trigger.body.ref", "trigger.body.n", "trigger.body.f", "trigger.body.ok", "trigger.body.none", "trigger.body.list",
          "trigger.body.repository", "trigger.body.repository.owner.login", "trigger['body']['ref']", "trigger.body['repository'].name",
          "trigger.body.commits[0].id", "trigger.body.commits[-1].msg", "trigger.body.commits.1.id", "trigger.body.headers['X-Event']",
          "trigger.body.list[1]", "trigger.body.nums[1:3]", "trigger.body.nums[::-1]", "trigger.body.nums[:2]", "trigger.body.nums[-2:]",
          "trigger.body.ref[5:]", "trigger.body.ref[0]", "trigger.body.ref[-4:]", "trigger.body.utf[1]", "trigger.body.nums[::2]",
          "action_context.user", "action_context.api_user", "config_context.region", "x", "s", "b", "trigger.body.missing",
          "missing", "trigger.body.commits[9]", "trigger.body.nested[1][0]", "trigger.body.quote", "trigger.body.nl", "trigger.body.utf",
          "trigger.body.emptyd", "trigger.body.empty", "trigger.body.users"]:
    t("{{ %s }}" % e)
t("{{ missing.attr }}")
t("{{ trigger.body.missing.x }}")
t("echo {{ trigger.body.ref }} and {{ trigger.body.n }}!")
t("{{ trigger.body.missing }}|{{ missing }}|")
# --- arithmetic & precedence
for e in ["1 + 2 * 3", "(1 + 2) * 3", "10 / 4", "10 // 4", "-7 // 2", "-7 % 3", "7 % -3", "2 ** 10", "2 ** 3 ** 2", "2 ** -1",
          "x - y - 1", "x / y", "x * 1.5", "1 + 2.5", "7.5 // 2", "7.5 % 2", "-x", "+x", "- 2 ** 2", "'a' + 'b'", "'ab' * 3", "3 * 'ab'",
          "[1] + [2, 3]", "[0] * 3", "1 ~ 2", "'a' ~ none ~ true", "x ~ y + 1", "1 + 2 ~ 3", "true + 1", "x + trigger.body.f",
          "1 / 0", "'a' + 1", "1 + none", "missing + 1", "10 - 2 - 3", "2 * 3 % 4", "-3 ** 2", "(-3) ** 2", "not 1 == 2", "not true or true",
          "true and false or true", "false or 0 or 'z'", "1 and 2", "0 and 1", "none or 'default'", "'' or []", "1 if x > 5 else 2",
          "'big' if x > 100 else 'small' if x > 5 else 'tiny'", "'yes' if missing", "('yes' if missing) ~ '|'", "x if x else y",
          "1 < 2 < 3", "3 > 2 > 2", "1 == 1.0", "true == 1", "'a' < 'b'", "[1, 2] < [1, 3]", "1 != 2", "x >= 10", "x <= 9",
          "'a' in 'cat'", "'z' not in 'cat'", "2 in [1, 2]", "'ref' in trigger.body", "'x' in missing", "missing == missing",
          "missing != 1", "none == none", "1 < 'a'", "x > y and y > 0", "not x", "not missing", "[] == []", "{'a': 1} == {'a': 1.0}"]:
    t("{{ %s }}" % e)
# --- filters: default
for e in ["missing | default('d')", "missing | d('d')", "trigger.body.ref | default('d')", "trigger.body.none | default('d')",
          "trigger.body.es | default('d')", "trigger.body.es | default('d', true)", "trigger.body.es | default('d', boolean=true)",
          "missing | default", "trigger.body.missing | default(trigger.body.n)", "missing | default(none)", "0 | default(5, true)",
          "missing | default([1, 2])"]:
    t("{{ %s }}" % e)
# --- string filters
for e in ["trigger.body.ref | upper", "trigger.body.mixed | lower", "trigger.body.mixed | capitalize", "trigger.body.mixed | title",
          "trigger.body.text | trim", "trigger.body.text | trim | length", "'xxhixx' | trim('x')", "trigger.body.ref | replace('/', '-')",
          "'aaa' | replace('a', 'b', 2)", "'abc' | replace('', '-')", "true | upper", "none | lower", "missing | upper", "trigger.body.list | upper",
          "'hello world' | title", "'o\\'neil mc-donald [x]' | title", "trigger.body.n | string", "trigger.body.list | string",
          "trigger.body.ok | string", "missing | string", "'ABC' | lower | capitalize", "trigger.body.utf | upper", "trigger.body.utf | length",
          "trigger.body.path | basename", "trigger.body.path | dirname", "'file.txt' | basename", "'file.txt' | dirname", "'/a/b/' | basename",
          "'/a/b/' | dirname", "'/' | dirname", "'//a' | dirname", "'a/b' | dirname"]:
    t("{{ %s }}" % e)
# --- sequence filters
for e in ["trigger.body.words | join(', ')", "trigger.body.list | join('-')", "trigger.body.nums | join", "trigger.body.users | join(',', attribute='name')",
          "trigger.body.nums | length", "trigger.body.headers | length", "trigger.body.ref | length", "missing | length", "trigger.body.n | length",
          "trigger.body.nums | count", "trigger.body.nums | first", "trigger.body.nums | last", "trigger.body.ref | first", "trigger.body.ref | last",
          "trigger.body.headers | first", "trigger.body.headers | last", "trigger.body.empty | first", "trigger.body.commits | first",
          "trigger.body.ref | list", "trigger.body.headers | list", "trigger.body.nums | list", "missing | list", "trigger.body.n | list",
          "trigger.body.nums | sort", "trigger.body.words | sort", "trigger.body.nums | sort(reverse=true)", "trigger.body.tags | unique | list",
          "trigger.body.nums | sum", "trigger.body.nums | min", "trigger.body.nums | max", "trigger.body.words | max", "trigger.body.nums | reverse | list",
          "trigger.body.ref | reverse", "trigger.body.users | map(attribute='name') | list", "trigger.body.users | map(attribute='age') | sum",
          "(trigger.body.headers | items | list)[1][1]", "trigger.body.empty | join(',')", "trigger.body.neg | abs", "trigger.body.f | round",
          "3.14159 | round(2)", "2.5 | round", "3.7 | round(0, 'floor')", "trigger.body.nested | first | last", "trigger.body.empty | first | default('none')"]:
    t("{{ %s }}" % e)
# --- int / float
for e in ["'42' | int", "'3.75' | int", "'x12' | int", "'x12' | int(7)", "3.9 | int", "-3.9 | int", "true | int", "none | int", "missing | int",
          "'0x1A' | int", "'0x1A' | int(0, 16)", "'1A' | int(base=16)", "' 12 ' | int", "'1_000' | int", "[1] | int", "'42' | float", "'3.75' | float",
          "'x' | float", "'x' | float(1.5)", "3 | float", "'1e3' | float", "true | float", "trigger.body.num_s | int + 1", "trigger.body.float_s | float * 2",
          "'-5' | int", "'+5' | int", "'' | int", "'nan' | float", "'inf' | float", "'-inf' | float"]:
    t("{{ %s }}" % e)
# --- json / yaml
for e in ["trigger.body.repository | tojson", "trigger.body.list | tojson", "'<a & b>' | tojson", "\"it's\" | tojson", "trigger.body.utf | tojson",
          "trigger.body.nl | tojson", "trigger.body.repository | tojson(2)", "trigger.body.commits | tojson", "none | tojson", "1.0 | tojson",
          "trigger.body.repository | to_json_string", "trigger.body.list | to_json_string", "trigger.body.nums | to_json_string",
          "trigger.body.repository | to_json_string(2)", "'x' | to_json_string", "trigger.body.json | from_json_string",
          "(trigger.body.json | from_json_string).b", "(trigger.body.json | from_json_string)['a'] + 1", "'[1, 2.5, \"x\", null, true]' | from_json_string",
          "'3' | from_json_string + 1", "trigger.body.repository | to_yaml_string", "trigger.body.nums | to_yaml_string",
          "trigger.body.commits | to_yaml_string", "{'a': 'yes', 'b': '1', 'c': 'x y', 'd': none, 'e': true, 'f': 1.5} | to_yaml_string",
          "trigger.body.users | to_yaml_string", "trigger.body.quote | json_escape", "trigger.body.nl | json_escape", "'plain' | json_escape",
          "'a\\\\b' | json_escape", "trigger.body.repository | json_escape"]:
    t("{{ %s }}" % e)
# --- regex
for e in ["trigger.body.ref | regex_match('refs/heads/.*')", "trigger.body.ref | regex_match('heads')", "trigger.body.ref | regex_search('heads')",
          "trigger.body.ref | regex_search('HEADS')", "trigger.body.ref | regex_search('HEADS', true)", "trigger.body.ref | regex_replace('heads', 'tags')",
          "trigger.body.ref | regex_replace('^refs/heads/(.*)$', '\\\\1')", "trigger.body.ref | regex_replace('(?P<x>main)', 'br-\\\\g<x>')",
          "trigger.body.ref | regex_substring('[a-z]+')", "trigger.body.ref | regex_substring('[a-z]+', 1)", "trigger.body.ref | regex_substring('[a-z]+', -1)",
          "trigger.body.ref | regex_substring('[0-9]+')", "trigger.body.ref | regex_substring('heads/([a-z]+)')",
          "trigger.body.ref | regex_substring('([a-z]+)/([a-z]+)', 0) | join('+')", "'a1 b22' | regex_substring('([a-z])(\\\\d+)', -1) | last", "trigger.body.n | regex_match('3')", "trigger.body.mixed | regex_replace('o', '0', true)",
          "'a1b22c333' | regex_replace('\\\\d+', '#')", "'x.y' | regex_match('x\\\\.y')", "trigger.body.ref | regex_match('(')"]:
    t("{{ %s }}" % e)
# --- tests
for e in ["missing is defined", "missing is undefined", "x is defined", "trigger.body.none is none", "trigger.body.n is none",
          "missing is none", "s is string", "x is string", "x is number", "trigger.body.f is number", "b is number", "s is number",
          "x is not defined", "trigger.body.none is not none", "x is even", "x is odd", "y is odd", "x is divisibleby 5", "x is divisibleby(3)",
          "trigger.body.headers is mapping", "trigger.body.nums is sequence", "s is sequence", "x is sequence", "b is boolean", "x is integer",
          "trigger.body.f is float", "b is true", "trigger.body.no is false", "x is eq 10", "x is lt 20", "'ABC' is upper", "'abc' is lower",
          "3 is in [1, 2, 3]", "not missing is defined", "missing is defined or x is defined", "trigger.body.missing is defined",
          "trigger.body.missing.x is defined", "x is ne 10", "x is ge 10", "x is gt 10", "1 is sameas 1"]:
    t("{{ %s }}" % e)
# --- methods
for e in ["trigger.body.ref.upper()", "trigger.body.ref.split('/')", "trigger.body.ref.split('/')[-1]", "trigger.body.csv.split(',')",
          "'a b  c '.split()", "trigger.body.ref.split('/', 1)", "trigger.body.text.strip()", "trigger.body.text.lstrip()", "trigger.body.text.rstrip() ~ '|'",
          "trigger.body.ref.startswith('refs/')", "trigger.body.ref.endswith('main')", "trigger.body.ref.replace('refs/', '')", "trigger.body.ref.find('heads')",
          "trigger.body.ref.count('e')", "'-'.join(trigger.body.words)", "trigger.body.headers.keys() | list", "trigger.body.headers.values() | list",
          "trigger.body.headers.get('X-Event')", "trigger.body.headers.get('nope')", "trigger.body.headers.get('nope', 'dflt')",
          "trigger.body.nums.index(5)", "trigger.body.tags.count('x')", "'42'.isdigit()", "range(5) | list", "range(2, 10, 3) | list",
          "range(5, 0, -2) | list", "trigger.body.ref.lower().split('/') | length", "missing.upper()", "trigger.body.ref.nope()"]:
    t("{{ %s }}" % e)
# --- if / elif / else
t("{% if x > 5 %}big{% endif %}")
t("{% if x > 50 %}big{% else %}small{% endif %}")
t("{% if x > 50 %}a{% elif x > 5 %}b{% elif x > 1 %}c{% else %}d{% endif %}")
t("{% if missing %}yes{% else %}no{% endif %}")
t("{% if trigger.body.empty %}ne{% else %}empty{% endif %}")
t("{% if trigger.body.ref == 'refs/heads/main' and trigger.body.ok %}deploy{% endif %}")
t("{% if not trigger.body.none %}none-ish{% endif %}")
t("{% if trigger.body.missing is defined %}d{% else %}u{% endif %}")
t("{% if x %}{% if y %}both{% endif %}{% endif %}")
t("{% if 'heads' in trigger.body.ref %}branch{% endif %}")
# --- for loops
t("{% for c in trigger.body.commits %}{{ c.id }},{% endfor %}")
t("{% for c in trigger.body.commits %}{{ loop.index }}/{{ loop.length }}:{{ c.msg }}{% if not loop.last %}; {% endif %}{% endfor %}")
t("{% for n in trigger.body.nums %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{% endfor %}")
t("{% for k in trigger.body.headers %}{{ k }}={{ trigger.body.headers[k] }} {% endfor %}")
t("{% for k, v in trigger.body.headers.items() %}{{ k }}:{{ v }};{% endfor %}")
t("{% for k, v in trigger.body.headers | items %}{{ k }}:{{ v }};{% endfor %}")
t("{% for x in trigger.body.empty %}{{ x }}{% else %}nothing{% endfor %}")
t("{% for x in missing %}{{ x }}{% else %}undef-empty{% endfor %}")
t("{% for ch in 'abc' %}[{{ ch }}]{% endfor %}")
t("{% for n in trigger.body.nums if n > 2 %}{{ n }}@{{ loop.index }}/{{ loop.length }} {% endfor %}")
t("{% for row in trigger.body.nested %}{% for v in row %}{{ loop.depth }}:{{ v }} {% endfor %}|{% endfor %}")
t("{% for row in trigger.body.nested %}{% set outer = loop.index %}{% for v in row %}{{ outer }}.{{ loop.index }}={{ v }} {% endfor %}{% endfor %}")
t("{% for n in trigger.body.nums %}{{ loop.cycle('odd', 'even') }} {% endfor %}")
t("{% for n in trigger.body.nums %}{{ loop.previtem | default('-') }}>{{ n }}>{{ loop.nextitem | default('-') }} {% endfor %}")
t("{% for i in range(3) %}{{ i }}{% endfor %}")
t("{% for u in trigger.body.users %}{{ u.name | title }} ({{ u.age }}){{ ', ' if not loop.last }}{% endfor %}")
t("{% for n in x %}{{ n }}{% endfor %}")
t("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}")
t("{% for a, b in [[1, 2, 3]] %}{{ a }}{% endfor %}")
# --- set
t("{% set greeting = 'hi ' ~ action_context.user %}{{ greeting }}")
t("{% set n = x * 2 %}{{ n + 1 }}")
t("{% set l = [1, 2] %}{% set l2 = l + [3] %}{{ l }} {{ l2 }}")
t("{% set x = 5 %}{{ x }}")
t("{% for i in [1, 2] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}")
t("{% if true %}{% set z = 'in-if' %}{% endif %}{{ z }}")
t("{% set block %}Hello {{ s }}!{% endset %}{{ block | upper }}")
t("{% set ns = namespace(count=0) %}{% for n in trigger.body.nums %}{% set ns.count = ns.count + n %}{% endfor %}{{ ns.count }}")
t("{% set ns = namespace(found=false) %}{% for c in trigger.body.commits %}{% if c.id == 'def' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}")
# --- whitespace control, comments, raw
t("a  {{- s -}}  b")
t("a\n  {%- if true -%}\n  x\n  {%- endif -%}\n  b")
t("{% for i in [1, 2, 3] -%}\n  {{ i }}\n{%- endfor %}")
t("line1\n{% if true %}\nline2\n{% endif %}\nline3\n")
t("trailing newline\n")
t("two trailing\n\n")
t("a {# a comment #} b")
t("a {#- comment -#} b")
t("{# multi\nline #}x")
t("{% raw %}{{ not rendered }} {% if %}{% endraw %}")
t("x {%- raw -%}  {{ y }}  {%- endraw -%} z")
t("{{ '{{' }} literal {{ '}}' }}")
t("{ single brace } and {{ s }} and %} and #}")
t("  {{ s }}  ")
t("")
t("plain text only")
t("{{ {'a': {'b': 1}} }}")
t("{{ [1, {'k': 'v'}] }}")
# --- printf-style `%` formatting and `format`
for e in ["'%s-%d' % ('a', 3)", "'%5.2f|%-4s|%04d' % (2.5, 'b', 7)", "'%x %X %#x %#X %o %#o' % (255, 255, 255, 255, 8, 8)",
          "'%+d % d %d' % (5, 5, -5)", "'%c%c' % (65, 'z')", "'%r %r' % ('q', 1)", "'100%%'  % ()", "'%s' % trigger.body.nums",
          "'%s' % trigger.body.repository", "'abc' % trigger.body.nums", "'%s %s' % trigger.body.nums", "'%s' % (trigger.body.nums,)",
          "'%(name)s is %(age)d' % trigger.body.users[0]", "'%(missing)s' % trigger.body.users[0]", "'%s' % trigger.body.none",
          "'%s' % trigger.body.ok", "'%d' % trigger.body.ok", "'%d' % trigger.body.f", "'%.3s|%5s|%-5s|' % ('abcdef', 'ab', 'ab')",
          "'%e %E %g %G' % (12345.678, 0.000123, 1e20, 1.5e-7)", "'%.0f %.1f %10.3f' % (2.5, 0.05, -3.14159)", "'%5d|%-5d|%05.1f' % (42, 42, 3.14)",
          "'%.3d %.5x' % (7, 255)", "'%*d|%-*s|' % (5, 1, 4, 'a')", "'%d' % 'x'", "'%s %s' % ('a',)", "'%s' % ('a', 'b')", "'%z' % 1",
          "'%' % 1", "'%(a)s' % 1", "'%x' % 1.5", "'%s' % missing", "'%s|%s' % (x, y)", "'%i %u' % (3, 4)", "'%s' % (1, 2)[0]",
          "'%s' % ()", "'%s' % 5 ~ '!'", "'%s' % trigger.body.utf", "'%3s|' % trigger.body.utf", "'%.2s' % trigger.body.utf",
          "'%s' | format(trigger.body.nums)", "'%s-%s' | format(1, 2)", "'%(x)s/%(y)s' | format(x=5, y='z')", "'abc' | format",
          "'%s' | format", "'%s %s' | format(1)", "'%d' | format('a')", "trigger.body.n | format", "'%05.2f' | format(trigger.body.f)",
          "'%s' | format(1, x=2)", "trigger.body.ref ~ ('-%s' % x)", "'%s' % trigger.body.list", "'%d items' % trigger.body.nums | length"]:
    t("{{ %s }}" % e)
# --- select / reject / selectattr / rejectattr / map(filter)
for e in ["trigger.body.nums | select('odd') | list", "trigger.body.nums | reject('odd') | list", "trigger.body.list | select | list",
          "trigger.body.list | reject | list", "trigger.body.nums | select('gt', 2) | join(',')", "trigger.body.nums | select('divisibleby', 2) | list",
          "trigger.body.list | select('string') | list", "trigger.body.list | reject('none') | list", "trigger.body.list | select('number') | list",
          "trigger.body.tags | select('equalto', 'x') | list", "trigger.body.tags | select('in', ['y', 'z']) | list", "trigger.body.words | select('lt', 'c') | list",
          "trigger.body.users | selectattr('age', 'gt', 30) | map(attribute='name') | list", "trigger.body.users | rejectattr('age', 'gt', 30) | map(attribute='name') | join",
          "trigger.body.users | selectattr('name') | list | length", "trigger.body.users | selectattr('zz') | list", "trigger.body.users | rejectattr('zz') | list | length",
          "trigger.body.users | selectattr('zz', 'undefined') | list | length", "trigger.body.users | selectattr('name', 'equalto', 'bob') | first",
          "trigger.body.commits | selectattr('n', 'ge', 2) | map(attribute='id') | join('+')", "trigger.body.nested | selectattr('0', 'eq', 3) | list",
          "trigger.body.users | selectattr('age', 'odd') | map(attribute='name') | list", "trigger.body.nums | select('bogus') | list", "trigger.body.users | selectattr | list",
          "trigger.body.n | select('odd') | list", "missing | select('odd') | list", "trigger.body.ref | select('upper') | list", "trigger.body.headers | select | list",
          "trigger.body.words | map('upper') | list", "trigger.body.words | map('upper') | join('/')", "trigger.body.nums | map('string') | join('+')",
          "trigger.body.words | map('replace', 'a', '_') | list", "trigger.body.nums | map('float') | list", "trigger.body.words | map('length') | sum",
          "trigger.body.users | map(attribute='zz', default='-') | list", "trigger.body.users | map(attribute='name') | map('capitalize') | list",
          "trigger.body.nums | map | list", "trigger.body.nums | map('bogus') | list", "trigger.body.nested | map('first') | list", "trigger.body.nested | map('sum') | list",
          "trigger.body.commits | map(attribute='msg') | map('lower') | select('regex_search', 'fix|doc') | list", "trigger.body.users | map(attribute='age', x=1) | list"]:
    t("{{ %s }}" % e)
# --- more Jinja builtins: dictsort, batch, slice, indent, center, truncate, wordcount, urlencode, filesizeformat, escape
for e in ["trigger.body.headers | dictsort | map('join', '=') | join(',')", "{'b': 1, 'A': 3, 'c': 2} | dictsort | map('join', '=') | join(',')", "{'b': 1, 'A': 3, 'c': 2} | dictsort(true) | map('join', '=') | join(',')",
          "{'b': 1, 'A': 3, 'c': 2} | dictsort(by='value') | map('join', '=') | join(',')", "{'b': 1, 'A': 3, 'c': 2} | dictsort(reverse=true) | map('join', '=') | join(',')", "{'b': 1} | dictsort(by='x')",
          "trigger.body.nums | dictsort", "trigger.body.nums | batch(2) | list", "trigger.body.nums | batch(2, 0) | list", "trigger.body.nums | batch(3, 'x') | list",
          "trigger.body.empty | batch(2) | list", "trigger.body.ref | batch(4) | list", "trigger.body.nums | slice(2) | list", "trigger.body.nums | slice(3, 'x') | list",
          "trigger.body.nums | slice(7) | list", "trigger.body.nums | slice(0) | list", "trigger.body.nums | batch(0) | list",
          "'a\\nb\\n\\nc' | indent", "'a\\nb' | indent(2, true)", "'a\\n\\nb' | indent(2, blank=true)", "'a\\r\\nb' | indent('> ')", "trigger.body.nl | indent(first=true)",
          "'' | indent(first=true)", "5 | indent", "'ab' | center(7)", "'abc' | center(8)", "'ab' | center(1)", "trigger.body.utf | center(11)", "5 | center",
          "trigger.body.mixed | truncate(9)", "trigger.body.mixed | truncate(9, true)", "trigger.body.mixed | truncate(9, false, '..', 0)",
          "trigger.body.mixed | truncate(20)", "trigger.body.mixed | truncate(2)", "trigger.body.mixed | truncate(length=12, leeway=0)", "missing | truncate(3)",
          "trigger.body.utf | truncate(4, true, '', 0)", "trigger.body.mixed | wordcount", "trigger.body.utf | wordcount", "'' | wordcount", "'a_b c-d 3.5' | wordcount",
          "'a b/c&d?e=f' | urlencode", "{'a': 'x y', 'b': 2} | urlencode", "[['k', 'v w'], ['n', 1]] | urlencode", "trigger.body.n | urlencode", "trigger.body.utf | urlencode",
          "trigger.body.none | urlencode", "1 | filesizeformat", "999 | filesizeformat", "1000 | filesizeformat", "1500 | filesizeformat", "123456789 | filesizeformat",
          "3000000 | filesizeformat(true)", "'2048' | filesizeformat(binary=true)", "1e30 | filesizeformat", "0.5 | filesizeformat",
          "\"<a href='x'>&\\\"\" | e", "trigger.body.quote | escape", "trigger.body.none | e", "trigger.body.n | forceescape", "'<b>' | safe", "missing | e | length",
          "'upper' is filter", "'odd' is test", "'zz' is filter", "'map' is filter", "'defined' is test", "5 is filter", "'odd' is not test"]:
    t("{{ %s }}" % e)
t("{% for k, v in d | dictsort %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 2, "a": 1, "C": [1]}})
t("{% for row in items | batch(3, '-') %}{{ row | join(' ') }}|{% endfor %}", {"items": list(range(7))})
t("{% for col in items | slice(3) %}<{{ col | join(',') }}>{% endfor %}", {"items": list(range(8))})
t("{% for u in users | selectattr('admin') %}{{ u.name }} {% else %}none{% endfor %}", {"users": [{"name": "a", "admin": True}, {"name": "b", "admin": False}, {"name": "c"}]})
t("{% set ns = namespace(n=0) %}{% for u in users | rejectattr('admin', 'true') %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", {"users": [{"admin": True}, {"admin": False}, {}]})
t("{{ '%-10s|%8.3f|' % (name, value) }}", {"name": "cpu", "value": 0.91234})
t("hosts: {{ '%s' | format(hosts | join(',')) }}", {"hosts": ["web-1", "web-2"]})

# --- errors
for e in ["{{ x +  }}", "{{ x | uper }}", "{% if x %}no end", "{% for %}", "{{ x is bogus }}", "{% endif %}", "{{ 'unclosed }}", "{{ x",
          "{% blah %}", "{{ trigger.body.n | length }}", "{{ 1 < 'a' }}", "{{ missing.a.b }}", "{{ trigger.body.ref | int | upper }}"]:
    t(e)
# --- misc contexts
t("{{ a.b }}", {"a": {"b": [1, {"c": "d"}]}})
t("{{ v }}", {"v": 1.0})
t("{{ v }}", {"v": 0.5})
t("{{ v * 3 }}", {"v": 0.1})
t("{{ v }}", {"v": 1e20})
t("{{ v }}", {"v": [1.0, -0.0, 100.0]})
t("{{ v }}", {"v": {"z": 1, "a": {"y": None, "b": False}}})
t("{{ v | tojson }}", {"v": {"z": 1, "a": {"y": None, "b": False}}})
t("{{ v }}", {"v": "\u00fcnicode \u2713"})
t("{{ v }}", {"v": ["tab\there", "q'uote", "d\"q", "both'\""]})
t("{{ v | length }}", {"v": "\u2713\u2713\u2713"})
t("{{ v[1:] }}", {"v": "\u00e9\u00e8\u00ea"})
t("{% for k, v in d.items() %}{{ k }}={{ v }}&{% endfor %}", {"d": {"b": 2, "a": 1, "c": [1]}})

# --- Python's exact integer semantics (core/pyvalue.hpp, shared with the rule operators): int64/uint64/float mixes
for a, b in [(2**64 - 1, -1), (2**64 - 1, 2**63 - 1), (2**64 - 1, 2**64 - 2), (2**63, 2.0**63), (2**63 + 1, 2.0**63),
             (2**63 - 1, 2.0**63), (2**53 + 1, 2.0**53), (-2**63, -2.0**63), (2**64 - 1, 1e30), (True, 1.0)]:
    t("{{ a == b }} {{ a != b }} {{ a < b }} {{ a > b }} {{ a <= b }} {{ a >= b }}", {"a": a, "b": b})
t("{{ a in [b] }} {{ [a] == [b] }}", {"a": 2**64 - 1, "b": 2**63 - 1})
t("{{ a is eq b }} {{ a is lt b }}", {"a": 2**63 + 1, "b": 2.0**63})
t("{% if a %}t{% else %}f{% endif %}", {"a": 2**64 - 1})

# --- filters with attribute= (dotted paths, indexes, chains; issue 12 item 4)
A = {"users": [{"name": "cy", "age": 31, "team": {"name": "ops", "rank": 2}, "tags": ["b", "a"]},
               {"name": "Al", "age": 25, "team": {"name": "dev", "rank": 1}, "tags": ["c"]},
               {"name": "bo", "age": 31, "team": {"name": "Ops", "rank": 3}, "tags": ["a", "z"]}],
     "partial": [{"n": 2}, {"m": 1}, {"n": 1}], "nums": [3, 1, 2], "words": ["b", "A", "a", "C"],
     "floats": [{"v": 1.5}, {"v": 2}], "pairs": [[2, "b"], [1, "a"], [2, "a"]], "lists": [{"l": [1]}, {"l": [2, 3]}]}
for e in ["users | sort(attribute='age') | map(attribute='name') | list",
          "users | sort(attribute='age', reverse=true) | map(attribute='name') | join(',')",
          "users | sort(attribute='team.name') | map(attribute='name') | list",
          "users | sort(attribute='team.name', case_sensitive=true) | map(attribute='name') | list",
          "users | sort(attribute='age,name') | map(attribute='name') | list",
          "users | sort(attribute='team.rank') | map(attribute='team.name') | list",
          "users | sort(attribute='name') | map(attribute='name') | list",
          "users | sort(attribute='tags.0') | map(attribute='name') | list",
          "users | map(attribute='team.name') | list", "users | map(attribute='tags.1') | list",
          "users | map(attribute='team.missing', default='-') | list", "users | map(attribute='tags.0') | unique | list",
          "users | sum(attribute='age')", "users | sum(attribute='team.rank')", "floats | sum(attribute='v')",
          "nums | sum(start=10)", "lists | sum(attribute='l', start=[])", "nums | sum(attribute='x')",
          "users | unique(attribute='age') | map(attribute='name') | list",
          "users | unique(attribute='team.name') | map(attribute='name') | list",
          "users | unique(attribute='team.name', case_sensitive=true) | map(attribute='name') | list",
          "users | min(attribute='age') | attr_name_placeholder", "users | max(attribute='age')",
          "users | min(attribute='team.rank')", "users | max(attribute='name')", "users | max(attribute='name', case_sensitive=true)",
          "users | min(attribute='missing')", "words | min", "words | max", "words | max(case_sensitive=true)",
          "words | unique | list", "words | unique(case_sensitive=true) | list", "words | sort", "words | sort(case_sensitive=true)",
          "pairs | sort(attribute='0') | list", "pairs | sort(attribute='0,1')", "pairs | sort(attribute='1', reverse=true)",
          "pairs | map(attribute='1') | join", "pairs | sort(attribute=1)", "pairs | max(attribute='0')",
          "partial | sort(attribute='n')", "[{}, {}] | sort(attribute='n')", "[{}] | sort(attribute='n')",
          "partial | map(attribute='n') | select | list", "partial | join(',', attribute='n')",
          "users | join(', ', attribute='team.name')", "users | selectattr('team.rank', 'gt', 1) | map(attribute='name') | list",
          "users | rejectattr('team.name', 'eq', 'dev') | map(attribute='age') | sum",
          "users | selectattr('tags.1') | map(attribute='name') | list",
          "[[1], [1]] | unique | list", "[1, 1.0, true, 2] | unique | list", "['a', 'b'] | sum"]:
    if "attr_name_placeholder" in e:
        e = e.replace(" | attr_name_placeholder", "")
    t("{{ %s }}" % e, A)

# --- tuples (issue 12 item 2): printed as Python does, from literals, items(), dictsort, unpacking
TU = {"d": {"b": 2, "a": 1, "c": [1, 2]}, "pairs": [["x", 1], ["y", 2]], "l": [3, 1], "s": "ab", "users": A["users"]}
for e in ["(1, 2)", "(1,)", "()", "('a', none, true, 1.5)", "((1, 2), [3, (4,)])", "(1, 2) | length", "(1, 2)[0]",
          "(1, 2)[-1]", "(1, 2, 3)[1:]", "(1, 2) == (1, 2)", "(1, 2) == [1, 2]", "(1, 2) != [1, 2]", "(1, 2) < (1, 3)",
          "(1, 2) < (1, 2, 0)", "(2,) > (1, 9)", "[(1, 2)] < [(1, 3)]", "(1, 2) < [1, 3]", "2 in (1, 2)", "(1, 2) in [(1, 2)]",
          "(1, 2) + (3,)", "(1, 2) | list", "(1, 2) | join('-')", "(1, 2) | first", "(1, 2) | last", "(2, 1) | sort",
          "(1, 2) | tojson", "(1, (2, 3)) | to_json_string", "(1, 2) | to_yaml_string", "(1, 2) | string", "() | length",
          "(1, 2) is sequence", "(1, 2) is mapping", "(1, 2) is iterable", "(1, 2) | reverse | list", "(1, 'a').1",
          "d | dictsort", "d | dictsort(by='value') | first", "d.items() | list", "d.items() | sort(reverse=true)",
          "d | items | list", "d | dictsort | map('first') | list", "d.items() | map('last') | list", "d | dictsort | list | length",
          "{'k': (1, 2)}", "[(1, 2), ('a',)]", "d.items() | map('list') | list", "d | dictsort | first | join('=')",
          "'%s-%s' % (1, 2)", "'%s' % ((1, 2),)", "'%s' % [1, 2]", "(1, 2).count(2)", "(1, 2).index(2)",
          "d | dictsort | map(attribute='0') | list", "d | dictsort | map(attribute='1') | select('number') | list",
          "d | dictsort | selectattr('1', 'number') | list", "d.items() | map('join', '=') | join(',')",
          "[missing, 1]", "{'a': missing}", "[missing] | map('default', 'x') | list", "[missing] | join(',')",
          "[missing] | first is defined", "[missing] | tojson", "users | map(attribute='tags.1') | join(',')",
          "users | map(attribute='tags.1') | map('default', '-') | list", "users | map(attribute='tags.1') | select | list",
          "(users | map(attribute='tags.1') | list)[1] is undefined", "[missing] | length", "[missing][0]",
          "(1, 2) | unique | list", "[(1, 2), (1, 2), (2,)] | unique | list", "[(2, 'b'), (1, 'z'), (2, 'a')] | sort",
          "[(2, 'b'), (1, 'z')] | max", "[(1, 2), [1, 2]] | sort"]:
    t("{{ %s }}" % e, TU)
for tpl in ["{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "{% for k, v in d | dictsort %}{{ k }}:{{ v }},{% endfor %}",
            "{% for a, b in pairs %}{{ a }}{{ b }}{% endfor %}", "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }} {% endfor %}",
            "{% for a, b in ['xy', 'zw'] %}{{ b }}{{ a }}{% endfor %}", "{% for a, b in [(1, 2, 3)] %}{{ a }}{% endfor %}",
            "{% for a, b in [(1,)] %}{{ a }}{% endfor %}", "{% set a, b = (1, 2) %}{{ a }}/{{ b }}",
            "{% set a, b = 1, 2 %}{{ b }}{{ a }}", "{% set a, b = pairs[0] %}{{ a }}{{ b }}", "{% set a, b = 'xy' %}{{ b }}",
            "{% set a, b = (1, 2, 3) %}{{ a }}", "{% set a, b = missing %}{{ a }}", "{% set t = (1, 2) %}{{ t }} {{ t | length }}",
            "{% set x, = (5,) %}{{ x }}", "{% for x in (1, 2) %}{{ x }}{% endfor %}", "{% for k, v in d | dictsort %}{{ loop.index }}{% endfor %}",
            "{% set ns = namespace(v=missing) %}[{{ ns.v }}]", "{% if () %}t{% else %}f{% endif %}{% if (0,) %}t{% endif %}"]:
    t(tpl, TU)

# --- groupby (issue 12 item 5): named tuples (grouper, list), dotted attributes, default, case folding
G = {"users": A["users"], "rows": [{"k": "b", "v": 1}, {"k": "a", "v": 2}, {"k": "B", "v": 3}, {"v": 4}],
     "one": [{"v": 1}]}
for e in ["users | groupby('age')", "users | groupby('team.name') | map(attribute='grouper') | list",
          "users | groupby('team.name', case_sensitive=true) | map(attribute='grouper') | list",
          "rows | groupby('k')", "rows | groupby('k', default='z') | map(attribute='grouper') | list",
          "rows | groupby('k', 'z') | map(attribute='list') | map('length') | list", "one | groupby('k')",
          "users | groupby('age') | first | first", "(users | groupby('age') | last).list | map(attribute='name') | list",
          "users | groupby('age') | map('last') | map('length') | list", "users | groupby('tags.0') | length",
          "users | groupby(attribute='age') | map(attribute='0') | list", "[] | groupby('x')"]:
    t("{{ %s }}" % e, G)
t("{% for age, people in users | groupby('age') %}{{ age }}: {{ people | map(attribute='name') | join(', ') }}\n{% endfor %}", G)
t("{% for g in users | groupby('team.name') %}{{ g.grouper }}={{ g.list | length }};{% endfor %}", G)

# --- the constructs of issue 12 item 5: namespace, .format and %, macro/call, filter blocks, with, tests with
# arguments, loop.cycle/changed, wordwrap, striptags, attr, pprint, random
K = {"l": [1, 2, 2, 3], "d": {"a": 1, "b": [1, "x"]}, "s": "<p>Hello <b>big</b>\n  world</p><!-- c --> &amp; more",
     "long": "The quick brown fox jumps over the lazy dog and keeps running far away", "users": A["users"], "n": None,
     "name": "cpu", "v": 0.91234, "i": 42}
for tpl in ["{% set ns = namespace(a=1, b='x') %}{% set ns.a = ns.a + 1 %}{{ ns.a }}{{ ns.b }}",
            "{% set ns = namespace() %}{% set ns.found = false %}{% for u in users %}{% if u.age > 30 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
            "{% set ns = namespace(items=[]) %}{% for u in users %}{% set ns.items = ns.items + [u.name] %}{% endfor %}{{ ns.items | join(',') }}",
            "{% set ns = namespace(d) %}{{ ns.a }}", "{% set x = 1 %}{% set x.a = 2 %}",
            "{{ '{} and {}'.format(1, 'b') }}", "{{ '{0}{1}{0}'.format('a', 'b') }}", "{{ '{x}-{y}'.format(x=1, y=none) }}",
            "{{ '{:>6}|{:<4}|{:^5}'.format('ab', 1, 'c') }}", "{{ '{:.2f} {:5.1f} {:d} {:x} {:o} {:b} {:e}'.format(3.14159, 2.25, 42, 255, 8, 5, 12345.678) }}",
            "{{ '{:,}'.format(1234567) }}", "{{ '{:08.3f}'.format(-3.5) }}", "{{ '{:+d}'.format(5) }}", "{{ '{!r} {!s}'.format('a', 'b') }}",
            "{{ '{{}} {}'.format(1) }}", "{{ '{0[0]} {1[a]}'.format(l, d) }}", "{{ '{}'.format(d) }}", "{{ '{} {}'.format(1) }}",
            "{{ '{:d}'.format('x') }}", "{{ '{:%}'.format(0.25) }}", "{{ '{:g} {:g}'.format(1.5, 1e20) }}", "{{ '{:*^9}'.format('mid') }}",
            "{{ '{:#x}'.format(255) }}", "{{ '%s=%s' % ('a', 1) }}", "{{ '%5.2f%%' % 12.345 }}", "{{ '%(a)s-%(b)s' % d }}",
            "{{ '%d items' % l | length }}", "{{ '%s' % n }}", "{{ '%x' % 255 }}", "{{ '%s %s' % (1,) }}", "{{ '%-5s|' % name }}",
            "{{ '%.3s' % 'abcdef' }}", "{{ 'x' | format }}", "{{ '%s-%d' | format('a', 3) }}",
            "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', 'Hi') }} {{ greet(name='Cy', greeting='Yo') }}",
            "{% macro m(a) %}[{{ a }}|{{ varargs }}|{{ kwargs }}]{% endmacro %}{{ m(1, 2, 3, k=4) }}",
            "{% macro m() %}{{ i }}{% endmacro %}{{ m() }}", "{% macro m(x) %}{{ x * 2 }}{% endmacro %}{{ m(4) | length }}",
            "{% macro m(x) %}{% if x > 0 %}{{ x }}{{ m(x - 1) }}{% endif %}{% endmacro %}{{ m(3) }}",
            "{% macro m(a, b) %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
            "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=1) }}", "{% macro m() %}x{% endmacro %}{{ m }}",
            "{% macro list_users(us) %}{% for u in us %}- {{ u.name }}\n{% endfor %}{% endmacro %}{{ list_users(users) }}",
            "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ name }}{% endcall %}",
            "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each(l) %}<{{ item }}>{% endcall %}",
            "{% macro m() %}{{ caller is defined }}{% endmacro %}{{ m() }}",
            "{% filter upper %}hello {{ name }}{% endfilter %}", "{% filter replace('a', 'o') | upper %}banana{% endfilter %}",
            "{% filter indent(2, true) %}a\nb{% endfilter %}", "{% filter bogus %}x{% endfilter %}",
            "{% with a = 1, b = name %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", "{% with %}{% set q = 5 %}{{ q }}{% endwith %}[{{ q }}]",
            "{% with x = i %}{% with x = x + 1 %}{{ x }}{% endwith %}{{ x }}{% endwith %}", "{% set z = 1 %}{% with z = 2 %}{{ z }}{% endwith %}{{ z }}",
            "{{ 9 is divisibleby(3) }} {{ 9 is divisibleby 4 }} {{ 10 is divisibleby(num=5) }}", "{{ n is sameas none }} {{ 1 is sameas true }} {{ true is sameas true }}",
            "{{ l is sameas l }}", "{{ 1 is sameas 1 }}", "{{ i is eq 42 }} {{ i is ne(42) }} {{ i is gt 40 }} {{ i is lt(40) }} {{ i is ge 42 }} {{ i is le 41 }}",
            "{{ 2 is in l }} {{ 'a' is in d }}", "{{ name is equalto 'cpu' }}", "{{ i is number and i is divisibleby 7 }}",
            "{{ users | selectattr('age', 'divisibleby', 5) | map(attribute='name') | list }}", "{{ l | select('divisibleby', 2) | list }}",
            "{{ l | reject('sameas', 2) | list }}", "{{ i is callable }}", "{{ i is escaped }}",
            "{% for x in l %}{{ loop.cycle('odd', 'even') }} {% endfor %}", "{% for x in l %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}",
            "{% for x in l %}{{ loop.changed(x, 1) }}{% endfor %}", "{% for x in l %}{{ loop.cycle() }}{% endfor %}",
            "{% for x in l %}{{ loop.cycle(*['a', 'b']) }}{% endfor %}", "{{ '{}{}'.format(*l) }}", "{{ '{a}'.format(**d) }}", "{{ dict(**d, c=3) }}", "{{ range(*[1, 4]) | list }}", "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.cycle('x', 'y') }}{{ loop.depth }}{% endfor %}{% endfor %}",
            "{{ long | wordwrap(20) }}", "{{ long | wordwrap(10, wrapstring='|') }}", "{{ 'abcdefghijklmnop' | wordwrap(5) }}",
            "{{ 'abcdefghijklmnop' | wordwrap(5, break_long_words=false) }}", "{{ 'a\n\nb c d' | wordwrap(3) }}", "{{ '' | wordwrap(5) }}",
            "{{ 'one two-three four' | wordwrap(8) }}", "{{ 'one two-three four' | wordwrap(8, break_on_hyphens=false) }}",
            "{{ '  lead  and   gaps ' | wordwrap(6) }}", "{{ long | wordwrap(4) }}",
            "{{ s | striptags }}", "{{ '<a href=\"x\">link</a>  &lt;tag&gt; &#39;q&#39; &nbsp;x' | striptags }}", "{{ 'plain' | striptags }}",
            "{{ 3 | striptags }}", "{{ '<br/>a<br>b' | striptags }}",
            "{{ d | attr('a') }}", "{{ users | first | attr('name') }}", "{{ missing | attr('x') }}",
            "{{ d | pprint }}", "{{ l | pprint }}", "{{ 'it' ~ \"'\" ~ 's' | pprint }}", "{{ n | pprint }}", "{{ users | pprint }}", "{{ 1.5 | pprint }}",
            "{{ (1, 'a') | pprint }}", "{{ {'k': [1, 2]} | pprint }}",
            "{{ [7] | random }}", "{{ 'z' | random }}", "{{ [] | random }}", "{{ l | random in l }}", "{{ (l | random) is number }}"]:
    t(tpl, K)

# --- integers beyond 64 bits (Python's ints have no limit; issue 12 item 3)
BIG = {"i": 9223372036854775807, "j": -9223372036854775808, "u": 18446744073709551615, "f": 1.5, "l": [2, 3]}
for tpl in ["{{ i + 1 }}", "{{ j - 1 }}", "{{ i * i }}", "{{ 2 ** 64 }}", "{{ 2 ** 100 }}", "{{ -(2 ** 70) }}", "{{ 3 ** 200 }}",
            "{{ -j }}", "{{ u + 1 }}", "{{ u * 2 }}", "{{ (2 ** 70) // 3 }}", "{{ (2 ** 70) % 7 }}", "{{ -(2 ** 70) // 3 }}",
            "{{ -(2 ** 70) % 3 }}", "{{ (2 ** 70) // -3 }}", "{{ (2 ** 70) / 2 }}", "{{ (2 ** 70) + 0.5 }}", "{{ (2 ** 64) - (2 ** 64) }}",
            "{{ (2 ** 64) - 1 }}", "{{ (2 ** 64 + 5) - 2 ** 64 }}", "{{ 2 ** 64 > i }}", "{{ 2 ** 64 == 2 ** 64 }}", "{{ 2 ** 64 == 2.0 ** 64 }}",
            "{{ 2 ** 64 < 2.0 ** 65 }}", "{{ 2 ** 70 in [2 ** 70, 1] }}", "{{ [2 ** 70, 3, 2 ** 65] | sort }}", "{{ [2 ** 70, 3] | max }}",
            "{{ [i, i, i] | sum }}", "{{ [2 ** 70, 1.5] | sum }}", "{{ (2 ** 70) | abs }}", "{{ j | abs }}", "{{ (-(2 ** 70)) | abs }}",
            "{{ '123456789012345678901234567890' | int }}", "{{ '-123456789012345678901234567890' | int }}", "{{ 1e20 | int }}",
            "{{ (2 ** 70) | float }}", "{{ (2 ** 70) | string }}", "{{ (2 ** 70) | tojson }}", "{{ [2 ** 70] }}", "{{ {'a': 2 ** 70} }}",
            "{{ (2 ** 70, 1) }}", "{{ 2 ** 70 is number }}", "{{ 2 ** 70 is integer }}", "{{ 2 ** 70 is divisibleby 4 }}",
            "{{ 2 ** 70 is even }}", "{{ (2 ** 70 + 1) is odd }}", "{{ '%d' % 2 ** 70 }}", "{{ '%s|%r' % (2 ** 70, 2 ** 70) }}",
            "{{ '{}'.format(2 ** 70) }}", "{{ '{:,}'.format(2 ** 70) }}", "{{ '{:x}'.format(2 ** 70) }}", "{{ '{:>30}'.format(2 ** 70) }}",
            "{{ (2 ** 70) | round }}", "{{ (2 ** 70 + 5) | round(-1) }}", "{{ 15 | round(-1) }}", "{{ 25 | round(-1) }}", "{{ 7 | round }}",
            "{{ 2 ** 70 if 2 ** 70 else 0 }}", "{% if 2 ** 70 %}t{% endif %}", "{{ (2 ** 70) ~ 'x' }}", "{{ 10 ** 300 * 10 ** 300 > 0 }}",
            "{{ (10 ** 20) ** 5 }}", "{{ 7 ** 3 ** 3 }}", "{{ 2 ** 64 // 2 ** 63 }}", "{{ (2 ** 70) - 2 ** 70 + i }}", "{{ u }}", "{{ -u }}",
            "{{ u // 2 }}", "{{ u % 10 }}", "{{ l[0] ** 65 - 1 }}", "{{ (2 ** 70) | pprint }}",
            "{{ (2 ** 70) | length }}", "{{ (2 ** 70) | to_yaml_string }}", "{{ {'a': 2 ** 70, 'b': [2 ** 65]} | to_yaml_string }}",
            "{{ (2 ** 70) is iterable }}", "{{ (2 ** 70) | urlencode }}", "{{ (2 ** 70) | dictsort }}",
            "{{ {'a': 2 ** 70} | to_json_string }}", "{{ (2 ** 70) | int }}", "{{ 2 ** 70 | string | length }}"]:
    t(tpl, BIG)

# --- StackStorm's time, version, data (jsonpath_query, to_complex, from_yaml_string) and use_none filters
V = {"v": "0.10.0", "pre": "1.0.0-rc.1", "obj": {"foo": {"bar": "foobar", "list": [{"id": 1}, {"id": 2}]}},
     "yaml": "foo:\n  bar: foobar\n  n: 2\n", "none": None, "secs": 12345, "f": 90061.5}
for tpl in ["{{ secs | to_human_time_from_seconds }}", "{{ 0 | to_human_time_from_seconds }}", "{{ 59 | to_human_time_from_seconds }}",
            "{{ 61 | to_human_time_from_seconds }}", "{{ 3600 | to_human_time_from_seconds }}", "{{ f | to_human_time_from_seconds }}",
            "{{ 0.5 | to_human_time_from_seconds }}", "{{ -3 | to_human_time_from_seconds }}", "{{ 3456789 | to_human_time_from_seconds }}",
            "{{ 40000000 | to_human_time_from_seconds }}", "{{ 2.5 | to_human_time_from_seconds }}", "{{ 'x' | to_human_time_from_seconds }}",
            "{{ v | version_compare('0.10.0') }}", "{{ v | version_compare('0.10.1') }}", "{{ '0.10.1' | version_compare(v) }}",
            "{{ '0.9.0' | version_compare(v) }}", "{{ pre | version_compare('1.0.0') }}", "{{ pre | version_compare('1.0.0-rc.2') }}",
            "{{ '1.0.0-alpha' | version_compare('1.0.0-alpha.1') }}", "{{ '1.0.0-2' | version_compare('1.0.0-alpha') }}",
            "{{ '1.0.0+b1' | version_compare('1.0.0+b2') }}", "{{ v | version_more_than('0.9.0') }}", "{{ '0.9.0' | version_more_than(v) }}",
            "{{ v | version_less_than('0.9.0') }}", "{{ v | version_equal('0.10.0') }}", "{{ '0.10.1' | version_match('>0.10.0') }}",
            "{{ v | version_match('>=0.10.0') }}", "{{ v | version_match('<0.10.0') }}", "{{ v | version_match('!=0.10.0') }}",
            "{{ v | version_match('<=0.9.9') }}", "{{ v | version_match('~0.10') }}",
            "{{ v | version_bump_major }}", "{{ v | version_bump_minor }}", "{{ v | version_bump_patch }}", "{{ pre | version_bump_patch }}",
            "{{ v | version_strip_patch }}", "{{ '1.2' | version_compare('1.2.0') }}", "{{ '01.2.3' | version_bump_major }}",
            "{{ obj | jsonpath_query('$.foo.bar') }}", "{{ obj | jsonpath_query('$.foo.list[*].id') }}", "{{ obj | jsonpath_query('$..id') }}",
            "{{ obj | jsonpath_query('$.foo.list[1]') }}", "{{ obj | jsonpath_query('$.nope') }}", "{{ obj | jsonpath_query('foo.bar') }}",
            "{{ obj | jsonpath_query('$.foo.*') }}", "{{ obj | jsonpath_query('$') }}", "{{ obj | jsonpath_query('$.foo.list[0:1]') }}",
            "{{ obj | jsonpath_query(\"$['foo']['bar']\") }}",
            "{{ obj | to_complex }}", "{{ [1, 'a', none, true] | to_complex }}", "{{ 'x' | to_complex }}",
            "{{ yaml | from_yaml_string }}", "{{ (yaml | from_yaml_string).foo.n + 1 }}", "{{ '- a\n- 1\n' | from_yaml_string }}",
            "{{ obj | to_yaml_string | from_yaml_string == obj }}", "{{ none | use_none }}", "{{ 'foobar' | use_none }}", "{{ 0 | use_none }}"]:
    t(tpl, V)

# --- insertion order (issue 12 item 1): dicts keep the order they were written in, as Python's; dictsort,
# tojson and to_yaml_string sort (Jinja's tojson passes sort_keys=True, yaml.safe_dump sorts), to_json_string
# sorts only when asked. Contexts are written in this file's order (no sort_keys below).
O = {"d": {"zeta": 1, "alpha": {"y": 2, "b": [{"k": 1, "c": 2}]}, "mid": "m", "Beta": None},
     "tie": {"b": 1, "c": 0, "a": 1}, "payload": {"repository": {"name": "r", "id": 7}, "after": "abc", "before": "000"}}
for tpl in ["{{ d }}", "{{ d.alpha }}", "{% for k in d %}{{ k }},{% endfor %}", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
            "{{ d.keys() | list }}", "{{ d.values() | list }}", "{{ d.items() | list }}", "{{ d | list }}", "{{ d | first }}",
            "{{ d | join(',') }}", "{{ d | map('upper') | list }}", "{{ d | items | list }}", "{{ d | length }}",
            "{{ d | dictsort }}", "{{ tie | dictsort(by='value') }}", "{{ tie | dictsort(by='value', reverse=true) }}",
            "{{ d | tojson }}", "{{ d | tojson(2) }}", "{{ d | to_json_string }}", "{{ d | to_json_string(sort_keys=true) }}",
            "{{ d | to_json_string(2, true) }}", "{{ d | to_yaml_string }}", "{{ d | json_escape }}", "{{ d | to_complex }}",
            "{{ {'b': 1, 'a': 2} }}", "{{ {'b': 1, 'a': 2, 'b': 3} }}", "{{ {'b': 1, 'a': 2} | list }}", "{{ {'b': 1, 'a': 2} | tojson }}",
            "{{ {'b': 1, 'a': 2} == {'a': 2, 'b': 1} }}", "{{ d == payload }}", "{{ [{'y': 1, 'x': 2}, tie] }}",
            "{{ dict(b=1, a=2) }}", "{{ dict(tie, z=3, a=5) }}", "{{ payload }}", "{{ payload | tojson }}", "{{ payload | dictsort | first }}",
            "{% for k in payload.repository %}{{ k }} {% endfor %}", "{{ tie | unique | list }}", "{{ tie | sort }}", "{{ tie | max }}",
            "{{ tie | select('ne', 'c') | list }}", "{{ d | string }}", "{{ d | pprint }}", "{{ tie | pprint }}", "{{ [tie, {'k': tie}] | pprint }}", "{{ payload | to_yaml_string | from_yaml_string }}",
            "{{ '{\"q\": 1, \"p\": {\"z\": 2, \"a\": 3}}' | from_json_string }}", "{{ 'q: 1\np: 2\n' | from_yaml_string }}"]:
    t(tpl, O)

# --- issue 12 verification against a live server (helper v12): the cases a StackStorm user moving content over
# tried: dicts in insertion order, tuples, big ints, attribute= chains, macro/call/filter/with/groupby, % formatting
# and .format(), namespace(), loop.cycle()/changed(), is-tests with arguments, use_none, regex_substring groups,
# Python's round, more str methods, `{% set x | filter %}`, `for ... recursive`. Exclusions: docs/decisions.md.
F1 = {"d": {"zeta": 1, "alpha": 2, "mid": {"y": 1, "b": 2}}, "users": [{"name": "bob", "age": 30, "team": {"name": "z", "lead": {"n": "q"}}}, {"name": "ann", "age": 25, "team": {"name": "a", "lead": {"n": "p"}}}, {"name": "cid", "age": 30, "team": {"name": "m", "lead": {"n": "r"}}}], "n": None, "s": "Hello <b>World</b> &amp; more", "long": "The quick brown fox jumps over the lazy dog and keeps running far away", "nums": [3, 1, 2], "trigger": {"body": {"z": 1, "a": [1, 2], "m": {"k2": "v", "k1": None}}}}
for tpl in [
"{{ d }}",
"{% for k in d %}{{ k }},{% endfor %}",
"{{ d.items() | list }}",
"{{ d.keys() | list }}",
"{{ d | list }}",
"{{ d.values() | list }}",
"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
"{{ (1, 2) }}",
"{{ (1,) }}",
"{{ () }}",
"{{ d | dictsort }}",
"{{ d | dictsort | first }}",
"{% set a, b = (1, 2) %}{{ a }}-{{ b }}",
"{% set a, b = [3, 4] %}{{ b }}",
"{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}",
"{{ 2 ** 100 }}",
"{{ 2 ** 64 - 1 }}",
"{{ -(2 ** 63) - 1 }}",
"{{ (2 ** 100) // 3 }}",
"{{ (2 ** 100) % 7 }}",
"{{ 10 ** 30 / 10 ** 10 }}",
"{{ 9223372036854775807 + 1 }}",
"{{ (2**70) | string | length }}",
"{{ 2**100 > 2**99 }}",
"{{ [2**65, 1] | max }}",
"{{ [2**65, 1] | sum }}",
"{{ users | sort(attribute='age') | map(attribute='name') | list }}",
"{{ users | sort(attribute='team.name') | map(attribute='team.lead.n') | join(',') }}",
"{{ users | sort(attribute='age,name') | map(attribute='name') | list }}",
"{{ users | sum(attribute='age') }}",
"{{ users | unique(attribute='age') | map(attribute='name') | list }}",
"{{ users | min(attribute='age') }}",
"{{ users | max(attribute='team.name') }}",
"{% for g in users | groupby('age') %}{{ g.grouper }}:{{ g.list | map(attribute='name') | join('/') }};{% endfor %}",
"{% for age, items in users | groupby('age') %}{{ age }}={{ items | length }} {% endfor %}",
"{{ users | groupby('team.name') | map(attribute='grouper') | list }}",
"{{ users | map(attribute='team.lead') | map(attribute='n') | list }}",
"{{ users | selectattr('age', 'equalto', 30) | map(attribute='name') | list }}",
"{{ users | rejectattr('age', 'gt', 26) | list }}",
"{% macro greet(name, greeting='hi') %}{{ greeting }} {{ name }}{% endmacro %}{{ greet('x') }}|{{ greet('y', greeting='yo') }}",
"{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}inner{% endcall %}",
"{% macro m(a) %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}",
"{% macro l(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) l([1,2]) %}<{{ x }}>{% endcall %}",
"{% filter upper %}hello {{ s }}{% endfilter %}",
"{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}",
"{{ long | wordwrap(20) }}",
"{{ long | wordwrap(10, True, '|') }}",
"{{ s | striptags }}",
"{{ '<p>a</p>\n\n<br/>  b &lt; c' | striptags }}",
"{{ users[0] | attr('name') }}",
"{{ d | attr('zeta') }}",
"{{ d | pprint }}",
"{{ users | pprint }}",
"{{ [1,2,3] | random in [1,2,3] }}",
"{{ '%s and %d' % ('a', 3) }}",
"{{ '%05.2f|%-5s|%x' % (3.14159, 'ab', 255) }}",
"{{ '%(a)s-%(b)r' % {'a': 1, 'b': 'q'} }}",
"{{ '%s' % d }}",
"{{ '{} {}'.format(1, 'x') }}",
"{{ '{b} {a}'.format(a=1, b=2) }}",
"{{ '{0:>5}|{1:.2f}'.format('a', 2.5) }}",
"{{ '{:,}'.format(1234567) }}",
"{{ '{!r}'.format('x') }}",
"{% set ns = namespace(c=0) %}{% for i in nums %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}",
"{% set ns = namespace(d) %}{{ ns.zeta }}",
"{% for i in nums %}{{ loop.cycle('a', 'b') }}{% endfor %}",
"{% for u in users %}{% if loop.changed(u.age) %}{{ u.name }}{% endif %}{% endfor %}",
"{{ 9 is divisibleby(3) }}{{ 10 is divisibleby 3 }}",
"{{ n is sameas none }}{{ true is sameas true }}{{ 1 is sameas 1 }}",
"{{ nums is sameas nums }}",
"{{ n | use_none }}",
"{{ 'x' | use_none }}",
"{{ 'ab12cd34' | regex_substring('([a-z]+)([0-9]+)') }}",
"{{ 'ab12cd34' | regex_substring('([a-z]+)([0-9]+)', 1) }}",
"{{ 'ab12cd34' | regex_substring('[a-z]+([0-9]+)') }}",
"{{ 'ab12cd34' | regex_substring('([0-9])', 2) }}",
"{{ trigger.body }}",
"{{ trigger.body.m }}",
"{{ trigger.body | tojson }}",
"{{ trigger.body | to_json_string }}",
"{{ {'b': 1, 'a': 2} }}",
"{{ dict(z=1, a=2) }}",
"{{ (1, 'a', None, True) }}",
"{{ [(1, 2)] }}",
"{{ {'t': (1, 2)} }}",
"{{ zip }}",
"{{ range(3) | list }}",
"{{ 'a' in d }}",
"{{ d.get('zeta') }}",
"{{ d.get('nope', 5) }}",
"{{ d | length }}",
"{{ d.mid.items() | list }}",
"{{ d | items | list }}",
"{{ [1, 2] == (1, 2) }}",
"{{ (1, 2) + (3,) }}",
"{{ (1,2)[0] }}",
"{{ (3, 1, 2) | sort }}",
"{{ (3, 1, 2) | list }}",
"{{ 1.0 }}{{ 1e20 }}{{ 1.5e-7 }}{{ 0.1 + 0.2 }}",
"{{ 7 // 2 }}{{ -7 // 2 }}{{ -7 % 3 }}{{ 7 / 2 }}",
"{{ '%.3e' % 12345.678 }}",
"{{ '%c' % 65 }}",
"{{ '%5.1f%%' % 99.44 }}",
"{{ 'abc' | center(9) }}|",
"{{ users | map(attribute='nope', default='x') | list }}",
"{{ users | map(attribute='nope') | list }}",
"{{ users | selectattr('team.name', 'in', ['a', 'm']) | map(attribute='name') | join }}",
"{{ [1, 2, 3, 4] | batch(3) | list }}",
"{{ [1, 2, 3, 4] | slice(3) | list }}",
"{% for x in nums recursive %}{{ x }}{% endfor %}",
"{{ nums | reverse | list }}",
"{{ 'a b c' | wordcount }}",
"{{ 'hello' | truncate(3) }}",
"{{ 'hello world foo' | truncate(9) }}",
"{{ -5 | abs }}{{ 2.5 | round }}{{ 3.5 | round }}{{ 2.675 | round(2) }}",
"{{ 42 | filesizeformat }}{{ 1000000 | filesizeformat(true) }}",
"{{ users | groupby('age') }}",
"{{ (users | groupby('age'))[0] }}",
"{{ (users | groupby('age'))[0].list | length }}",
"{{ d | dictsort(reverse=true) }}",
"{{ d | dictsort(by='value') }}",
"{{ '%s' % ((1, 2),) }}",
"{{ '%s %s' % (1, 2) }}",
"{{ '%r' % 'x' }}",
"{{ '%r' % (1,2) }}",
"{{ 'x' ~ (1,2) }}",
"{{ (1,2) | join('-') }}",
"{{ (1, 2) | length }}",
"{{ (1, [2, 3]) | tojson }}",
"{{ true }}{{ none }}{{ None }}{{ True }}",
"{{ [none, true, 'a'] }}",
"{{ {'a': none} }}",
"{{ 3 is odd }}{{ 'a' is string }}{{ d is mapping }}{{ (1,) is sequence }}{{ 1 is number }}"
]:
    t(tpl, F1)
F2 = {"d": {"zeta": 1, "alpha": 2}, "w": ["b", "A", "c", "a"], "s": "a,b,,c", "t": "  Hi There  ", "n": None, "x": 5, "f": 2.5, "e": [], "tree": [{"name": "a", "children": [{"name": "b", "children": []}]}], "u": "héllo", "i": "42", "h": "0x1A"}
for tpl in [
"{% for i in tree recursive %}{{ i.name }}[{{ loop(i.children) }}]{% endfor %}",
"{% for i in tree recursive %}{{ loop.depth }}{{ i.name }}{% if i.children %}{{ loop(i.children) }}{% endif %}{% endfor %}",
"{{ s.split(',') }}",
"{{ s.split(',', 1) }}",
"{{ t.strip() }}|{{ t.lstrip() }}|{{ t.rstrip() }}",
"{{ t.upper() }}{{ t.lower() }}{{ t.title() }}",
"{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('c') }}",
"{{ 'a-b'.replace('-', '+') }}",
"{{ 'x'.join(['1','2']) }}",
"{{ 'abc'.find('c') }}{{ 'abc'.index('b') }}{{ 'aab'.count('a') }}",
"{{ 'Ab'.swapcase() }}{{ 'ab'.capitalize() }}{{ 'a b'.split() }}",
"{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}",
"{{ 'x'.zfill(3) }}{{ 'x'.ljust(3) }}|{{ 'x'.rjust(3) }}",
"{{ 'a\\nb'.splitlines() }}",
"{{ 'a.b.c'.rsplit('.', 1) }}",
"{{ 'abc'.partition('b') }}",
"{{ d.copy() }}",
"{{ [1,2].index(2) }}{{ [1,1].count(1) }}",
"{% for i in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}",
"{% for i in e %}x{% else %}empty{% endfor %}",
"{% for i in [1,2,3,4] if i is even %}{{ i }}{{ loop.index }}{% endfor %}",
"{%- if x > 3 -%}  big  {%- elif x > 1 %}mid{% else %}small{% endif -%}",
"{# c #}a{{ 'b' }}{% raw %}{{ c }}{% endraw %}",
"{{ 'abcdef'[1:3] }}{{ 'abc'[::-1] }}{{ [1,2,3][-1] }}{{ [1,2,3,4][::2] }}",
"{{ 'a' * 3 }}{{ [1] * 3 }}{{ [1] + [2] }}",
"{{ 1 < 2 < 3 }}{{ 3 > 2 > 5 }}",
"{{ 'b' > 'a' }}{{ [1,2] < [1,3] }}",
"{% set y %}block {{ x }}{% endset %}[{{ y }}]",
"{% set y | upper %}block{% endset %}{{ y }}",
"{{ x if x > 10 else 'no' }}",
"{{ x if x > 10 }}|",
"{{ not x }}{{ x and 0 }}{{ 0 or 'z' }}{{ n or 'dflt' }}",
"{{ 'hello world' | capitalize }}{{ 'hello world' | title }}{{ '  x  ' | trim }}|{{ 'xxaxx' | trim('x') }}",
"{{ 'aaa' | replace('a', 'b', 2) }}",
"{{ 'abc' | first }}{{ 'abc' | last }}{{ d | first }}",
"{{ n | default('x') }}{{ '' | default('y', true) }}{{ undefinedvar | d('z') }}",
"{{ 'abc' | list }}{{ w | string }}{{ d | list | string }}",
"{{ '42' | int + 1 }}{{ 'x' | int }}{{ '3.9' | int }}{{ 'x' | int(7) }}{{ '0x1A' | int(0, 16) }}{{ '1A' | int(base=16) }}{{ '0b101' | int(0, 0) }}",
"{{ '2.5' | float }}{{ 'x' | float }}{{ 3 | float }}{{ '1e3' | float }}",
"{{ w | max }}{{ w | min }}{{ w | max(case_sensitive=true) }}{{ w | sort }}{{ w | sort(case_sensitive=true) }}{{ w | unique | list }}",
"{{ 'abc' | reverse }}{{ [1,2] | sum(start=10) }}{{ {'a': 'b c', 'd': 1} | urlencode }}{{ 'a b&c' | urlencode }}",
"{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}",
"{{ {'b': [1, 2], 'a': 'é'} | tojson }}{{ {'b': 1} | tojson(indent=2) }}",
"{{ '%s-%s' | format(1, 2) }}{{ '%(a)s' | format(a=3) }}",
"{{ 1 | string }}{{ 1.0 | string }}{{ true | string }}{{ n | string }}",
"{{ f | round(0, 'floor') }}{{ f | round(0, 'ceil') }}{{ 1.25 | round(1) }}{{ 1.35 | round(1) }}{{ 0.5 | round }}{{ 1.5 | round }}{{ 10 | round }}{{ 1234.5678 | round(-2) }}{{ 0.1 | round(20) }}",
"{{ u | length }}{{ u | upper }}{{ u[1] }}{{ u | reverse }}",
"{{ i is number }}{{ x is integer }}{{ f is float }}{{ n is none }}{{ d is iterable }}{{ 'a' is lower }}{{ 'A' is upper }}{{ x is gt 3 }}{{ x is ge(5) }}{{ x is in [5] }}{{ x is eq 5 }}{{ x is ne 5 }}{{ w is sequence }}{{ x is boolean }}{{ true is true }}{{ false is false }}",
"{{ [1, 'a', 2.5, none, true] | join('-') }}",
"{{ 1 / 3 }}{{ 2 ** -1 }}{{ 2 ** 0.5 }}{{ 10 / 2 }}{{ 3 * 1.0 }}{{ 1e16 }}{{ 1e15 }}{{ 123456789012345678.0 }}{{ 1.0e-5 }}{{ 0.0001 }}{{ -0.0 }}",
"{{ 1 / 0 }}",
"{{ 1 // 0 }}",
"{{ 1 % 0 }}",
"{{ 5 % 2.5 }}{{ -5 % 3.0 }}{{ 7.5 // 2 }}",
"{{ 'a' + 1 }}",
"{{ [1] + 'a' }}",
"{{ x.nope }}|{{ x.nope is defined }}",
"{{ n.a }}",
"{{ d['zeta'] }}{{ d.zeta }}{{ w[0] }}{{ w.0 }}",
"{{ range(1, 10, 3) | list }}{{ range(5)[1:3] | list }}{{ range(3) | length }}",
"{{ dict(a=1, **d) }}",
"{{ [1,2,3] | select('odd') | list }}{{ [1,2,3] | reject('gt', 1) | list }}{{ [1,none,2] | select | list }}",
"{{ w | map('upper') | list }}{{ [1.5, 2.5] | map('round') | list }}{{ ['1', '2'] | map('int') | sum }}",
"{{ 'a%sb' % 'x' }}{{ '%s' % none }}{{ '%d' % 3.7 }}{{ '%i' % 2 }}{{ '%.1f' % 2 }}{{ '%s %%' % 1 }}{{ '%5s|%-5d|' % ('a', 3) }}{{ '%+d' % 5 }}{{ '%o' % 8 }}{{ '%X' % 255 }}{{ '%e' % 0.0001 }}{{ '%g' % 0.00001 }}{{ '%g' % 123456789 }}",
"{{ '{0}{0}'.format('a') }}{{ '{:>4}'.format(1) }}{{ '{:04d}'.format(7) }}{{ '{:x}'.format(255) }}{{ '{:.1%}'.format(0.25) }}{{ '{:^5}'.format('a') }}{{ '{:e}'.format(1.5) }}{{ '{d[zeta]}'.format(d=d) }}{{ '{0[1]}'.format(w) }}{{ '{:g}'.format(2.0) }}{{ '{}'.format(2.0) }}{{ '{}'.format(none) }}{{ '{}'.format([1, 'a']) }}{{ '{:s}'.format('x') }}{{ '{:,.2f}'.format(1234.5) }}{{ '{:_}'.format(1000000) }}{{ '{:b}'.format(5) }}{{ '{:#x}'.format(255) }}{{ '{:+}'.format(3) }}{{ '{{}}'.format() }}",
"{{ 'abc' is in 'xabcx' }}{{ 'a' in ['a'] }}{{ 1 in d }}{{ 'zeta' not in d }}",
"{{ x is divisibleby 0 }}",
"{{ 2**100 is divisibleby 3 }}{{ 2**100 is odd }}{{ 2**100 == 2**100 }}{{ 2**100 | string }}{{ (2**100) | float }}{{ 2**100 * 1.0 }}{{ 2**200 // 2**100 }}{{ (2**64) | abs }}{{ -(2**64) | abs }}{{ '%d' % 2**70 }}{{ '{:,}'.format(2**70) }}",
"{{ [1,2,3] | random is number }}",
"{{ x | random }}",
"{{ w | wordwrap(3) }}",
"{{ 'aaaa bbbb cccc' | wordwrap(5, false) }}",
"{{ 'a-very-long-hyphenated-word here' | wordwrap(8) }}",
"{{ 'word\\n\\nnext para here' | wordwrap(6) }}",
"{{ d | pprint }}{{ none | pprint }}{{ 'x' | pprint }}{{ (1,) | pprint }}{{ [] | pprint }}",
"{{ 'a  \\n b' | striptags }}",
"{% macro m() %}{{ caller is defined }}{% endmacro %}{{ m() }}",
"{% macro m(a) %}x{% endmacro %}{{ m(1, 2) }}",
"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=1) }}",
"{% macro m() %}{{ x }}{% endmacro %}{% set x = 9 %}{{ m() }}",
"{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}",
"{% with %}{% set z = 1 %}{% endwith %}{{ z }}|",
"{% filter replace('a', 'b') %}aaa{% endfilter %}",
"{% filter upper | replace('A', 'x') %}abc{% endfilter %}",
"{% set ns = namespace(a=1, b='x') %}{{ ns.b }}{{ ns.c }}|",
"{% for i in [1,1,2,2,1] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %}",
"{% for i in [1,2,3] %}{{ loop.cycle(*['a','b']) }}{% endfor %}",
"{{ [3,1] | sort | join }}{{ (3, 1) | sort }}{{ d.items() | sort }}{{ [(2,'a'),(1,'b')] | sort }}{{ [[2,'a'],[1,'b']] | sort(attribute='0') }}",
"{{ ['a', 'b'] | zip }}",
"{{ d | dictsort(false, 'value', true) }}",
"{{ [{'a': 1}, {'a': 1}] | unique | list }}",
"{{ [{'a': {'b': 1}}] | map(attribute='a.b') | list }}{{ [{'a': [5, 6]}] | map(attribute='a.1') | list }}",
"{{ [{'a': 2}, {}] | sort(attribute='a') }}",
"{{ [{'a': 2}, {'a': 1}] | sum(attribute='a') }}{{ [{'a': {'b': 2}}, {'a': {'b': 3}}] | sum(attribute='a.b') }}",
"{{ \"they're bill's\".title() }}",
"{{ 'hello-world foo_bar'.title() }}",
"{{ 'ÉCOLE été'.swapcase() }}",
"{{ 'ÀB'.islower() }}{{ 'àb'.islower() }}{{ '1'.isupper() }}",
"{{ '-42'.zfill(6) }}{{ '+7'.zfill(3) }}{{ 'abc'.zfill(2) }}",
"{{ 'é'.center(6, '*') }}|{{ 'ab'.center(5) }}|{{ 'ab'.ljust(4, '-') }}{{ 'ab'.rjust(4, '0') }}",
"{{ 'a,b,,c'.rsplit(',') }}{{ ' a  b c '.rsplit() }}{{ ' a  b c '.rsplit(None, 1) }}{{ 'a.b.c'.rsplit('.', 0) }}",
"{{ 'k=v=w'.partition('=') }}{{ 'k=v=w'.rpartition('=') }}{{ 'kv'.partition('=') }}{{ 'kv'.rpartition('=') }}",
"{% set k, sep, v = 'key: value'.partition(': ') %}{{ k }}/{{ v }}",
"{{ 'abcabc'.rfind('b') }}{{ 'abc'.rfind('z') }}{{ 'abcabc'.rindex('c') }}",
"{{ 'abc'.index('z') }}",
"{{ 'a\\r\\nb\\nc\\r'.splitlines() }}",
"{{ 'prefix-x'.removeprefix('prefix-') }}{{ 'x.yaml'.removesuffix('.yaml') }}{{ 'x'.removesuffix('') }}",
"{{ 'Straße'.casefold() }}",
"{{ '123'.isnumeric() }}{{ '12a'.isdecimal() }}",
"{{ 'x'.center(3, 'ab') }}",
"{{ 2.675 | round(2) }}{{ 1.005 | round(2) }}{{ 0.125 | round(2) }}{{ 0.375 | round(2) }}{{ 2.5 | round }}{{ -2.5 | round }}{{ -0.5 | round }}{{ 1e300 | round(2) }}{{ 123.456 | round(-1) }}",
"{{ 1.15 | round(1) }}{{ 1.25 | round(1, 'common') }}{{ 1.25 | round(1, 'floor') }}{{ 1.21 | round(1, 'ceil') }}{{ 5e-324 | round(400) }}{{ 4503599627370497.0 | round(3) }}",
"{% set y | trim | upper %}  padded {{ 'x' }}  {% endset %}[{{ y }}]",
"{% set y | replace('a', 'o') %}{% for i in [1, 2] %}a{{ i }}{% endfor %}{% endset %}{{ y }}",
"{% for i in [1, [2, [3]]] recursive %}{% if i is iterable %}{{ loop(i) }}{% else %}{{ i }}@{{ loop.depth }}{{ loop.depth0 }} {% endif %}{% endfor %}",
"{% for n in [{'n': 'a', 'c': [{'n': 'b', 'c': []}, {'n': 'c', 'c': [{'n': 'd', 'c': []}]}]}] recursive %}<{{ n.n }}{{ loop.index }}{% if n.c %}:{{ loop(n.c) }}{% endif %}>{% endfor %}",
"{% for i in [3, 1, 2] if i > 1 recursive %}{{ i }}{% endfor %}",
"{% for i in [[1]] recursive %}{% for j in i %}{{ loop(j) }}{% endfor %}{% endfor %}",
"{% for i in [1] %}{{ loop([2]) }}{% endfor %}",
"{{ dict(a=1, **{'z': 2, 'b': 3}) }}",
"{{ dict({'q': 1}, z=0, **{'a': 2}) }}",
"{{ {'z': 1, 'a': [2]}.copy() }}",
"{{ 'ab12cd34' | regex_substring('(?P<w>[a-z]+)(?P<n>[0-9]+)', 1) }}",
"{% set w, n = 'v1.22' | regex_substring('v([0-9]+)\\\\.([0-9]+)') %}{{ n }}.{{ w }}",
"{{ ('ab12' | regex_substring('([a-z]+)([0-9]+)'))[1] }}",
"{{ 'x' | regex_substring('(a)(b)') }}",
"{{ 'ABab' | regex_substring('(a)(b)', 0, true) }}",
"{{ 'a1b2' | regex_substring('[a-z]([0-9])', -1) }}"
]:
    t(tpl, F2)

with open("handwritten.jsonl", "w") as f:
    for c in T:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(len(T))
