"""`djstack check` reads files as people paste them (check/models/paste.py, check/lenient.py).

The tutorial's own CACHES block (the seed) carries non-breaking spaces; pasted into a stack's
settings, one run must report each of them at line:column, and still the real defects in the
settings and in the other files, with exit 1 (not 2). The catalogue in test_check.py plants one
defect per paste rule; here are the seed, the scanner's rules per file kind, and what is not reported.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from djstack.check import run_check
from djstack.check.models.paste import BOM, FULL_WIDTH, QUOTE, SPACE, TAB, ZERO_WIDTH, cleaned, scan
from djstack.cli import main
from test_check import NGINX, OVERLAY, Plant, init_stack, line_of, values

SEED = Path("/work/shared/seed/000_974e8045ed6a303e.txt")
_NB = "\u00a0 "  # the seed indents with NO-BREAK SPACE + space pairs
#: The seed's CACHES block (lines 517-526 of the tutorial), byte for byte.
SEED_CACHES = (
    "CACHES = {\n"
    f'{_NB * 2}"default": {{\n'
    f'{_NB * 4}"BACKEND": "django_redis.cache.RedisCache",\n'
    f'{_NB * 4}"LOCATION": "redis://redis:6379/1", #这里直接使用redis别名作为host ip地址\n'
    f'{_NB * 4}"OPTIONS": {{\n'
    f'{_NB * 6}"CLIENT_CLASS": "django_redis.client.DefaultClient",\n'
    f'{_NB * 6}"PASSWORD": "yourpassword", # 换成你自己密码\n'
    f"{_NB * 4}}},\n"
    f"{_NB * 2}}}\n"
    "}\n"
)


def nbsp_positions(text: str, first_line: int) -> set[tuple[int, int]]:
    """(line, column) of every U+00A0 in `text`, numbered from `first_line`."""
    return {(first_line + n, col + 1) for n, line in enumerate(text.splitlines()) for col, ch in enumerate(line) if ch == "\u00a0"}


def check_json(root: Path):
    result = CliRunner().invoke(main, ["check", str(root), "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("[") else result.output


def test_the_embedded_block_is_the_seeds():
    if not SEED.is_file():
        pytest.skip("the seed tutorial is not on this machine")
    lines = SEED.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("CACHES = {\n")
    assert "".join(lines[start : start + 10]) == SEED_CACHES
    assert SEED_CACHES.count("\u00a0") == 32


def test_seed_caches_in_the_projects_settings_hide_nothing(example_copy):
    """The block pasted into the project's settings.py (which init's overlay imports): before, check
    stopped with exit 2 on that file; now the NBSPs, a wrong database host in the overlay and a
    defect in nginx.conf are all reported in one run."""
    stack = init_stack(example_copy, "official")
    known = values(stack)
    settings = stack.project.settings_file
    before = settings.read_text()
    settings.write_text(before + "\n" + SEED_CACHES)
    first = before.count("\n") + 2  # the line `CACHES = {` lands on
    Plant("-", "-", ((OVERLAY, '"HOST": "<<db>>"', '"HOST": "localhost"'),
                     (NGINX, "client_max_body_size <<max_upload>>m;", "client_max_body_size 1m;")), NGINX, None).apply(stack)
    code, findings = check_json(stack.project.root)
    assert code == 1, findings
    rel = known["settings"]
    got = {(f["line"], f["column"]) for f in findings if f["id"] == "paste-non-ascii-space" and f["file"] == rel}
    assert got == nbsp_positions(SEED_CACHES, first) and len(got) == 32
    nbsp = next(f for f in findings if f["id"] == "paste-non-ascii-space")
    assert "NO-BREAK SPACE (U+00A0)" in nbsp["message"] and "ASCII space" in nbsp["fix"]
    ids = {(f["id"], f["file"], f["line"]) for f in findings}
    overlay, root = known["overlay"], stack.project.root
    assert ("settings-unparseable", rel, first + 1) in ids
    assert ("settings-db-host-not-a-service", overlay, line_of(root / overlay, '"HOST": "localhost"')) in ids
    assert ("nginx-body-limit-below-django", NGINX, line_of(root / NGINX, "client_max_body_size 1m;")) in ids


def test_seed_caches_in_the_settings_web_runs_are_still_evaluated(example_copy):
    """Pasted over the overlay's own CACHES (with DEBUG turned on beside it): the module is read
    with the NBSPs as spaces, so its DEBUG and the seed's hard-coded Redis password are found (and that it signs in as Redis's default user)."""
    stack = init_stack(example_copy, "debian")
    known = values(stack)
    overlay = stack.project.root / known["overlay"]
    text = overlay.read_text()
    start, end = text.index("CACHES = {"), text.index("}\n}\n", text.index("CACHES = {")) + 4
    overlay.write_text(text[:start].replace("DEBUG = False", "DEBUG = True") + SEED_CACHES + text[end:])
    first = line_of(overlay, "CACHES = {")
    code, findings = check_json(stack.project.root)
    assert code == 1, findings
    ids = {(f["id"], f["file"], f["line"]) for f in findings}
    rel = known["overlay"]
    assert ("settings-debug-on", rel, line_of(overlay, "DEBUG = True")) in ids
    assert ("settings-hardcoded-secret", rel, first + 6) in ids  # "PASSWORD": "yourpassword"
    assert any(i == "redis-user-unknown" for i, _, _ in ids)  # no user named: `default`, which is off
    got = {(f["line"], f["column"]) for f in findings if f["id"] == "paste-non-ascii-space"}
    assert got == nbsp_positions(SEED_CACHES, first)


def test_settings_python_cannot_parse_even_fixed_hide_nothing_else(example_copy):
    """A real syntax error in the project's settings: one settings-unparseable, the other files
    still checked, and no finding made up from Django defaults the broken file may have changed."""
    stack = init_stack(example_copy, "official")
    Plant("-", "-", (("<<settings>>", "DEBUG = True", "DEBUG = = True"),
                     (NGINX, "client_max_body_size <<max_upload>>m;", "client_max_body_size 1m;")), NGINX, None).apply(stack)
    findings = run_check(stack.project.root, strict=True)
    assert sorted(f.id for f in findings) == ["nginx-body-limit-below-django", "settings-unparseable"]


def test_pasted_compose_indentation_hides_nothing_else(example_copy):
    """NBSPs in the compose file's indentation: it is unparseable as it is, read with them as
    spaces, and every other file is checked through it."""
    stack = init_stack(example_copy, "official")
    Plant("-", "-", (("docker-compose.yml", "    restart: unless-stopped\n", "\u00a0   restart: unless-stopped\n"),
                     (NGINX, "client_max_body_size <<max_upload>>m;", "client_max_body_size 1m;")), NGINX, None).apply(stack)
    findings = run_check(stack.project.root, strict=True)
    assert sorted(f.id for f in findings) == ["compose-unparseable", "nginx-body-limit-below-django", "paste-non-ascii-space"]
    assert next(f for f in findings if f.id == "paste-non-ascii-space").column == 1


def test_harmless_occurrences_are_not_reported(example_copy):
    """Comments everywhere, Python strings, and text in quotes in the other files are left alone."""
    stack = init_stack(example_copy, "official")
    Plant("-", "-", (
        (OVERLAY, "", '# 注释：“引号”，（括号）\u00a0and\u200b zero width\nSITE_TITLE = "我的网站：首页\u00a0“欢迎”"\n'),
        ("<<settings>>", "", "NOTE = '中文：\u00a0it’s fine'  # ‘ok’\n"),
        ("docker-compose.yml", "", "# 说明：这是“compose”文件\u00a0\n"),
        (NGINX, "", "# 中文注释：“ok”\u00a0\n"),
        ("compose/web/uwsgi.ini", "", "; 注释：\u00a0“x”\n"),
        ("compose/web/entrypoint.sh", "", '# 注释：“x”\u00a0\necho "你好，世界：“hi”"\n'),
    ), NGINX, None).apply(stack)
    assert run_check(stack.project.root, strict=True) == []


# --- the scanner, per file kind ----------------------------------------------------------------------


def found(text: str, kind: str) -> list[tuple[str, int, int]]:
    return [(o.what.rule, o.line, o.column) for o in scan(text, kind)]


def test_python_reports_code_only():
    text = 'X = “他说：你好”  # “ok”：\nY = "a\u00a0b “c”"\nZ＝1\nW = (1，2)\nV = """\n\u00a0“”\n"""\n'
    assert found(text, "python") == [(QUOTE, 1, 5), (QUOTE, 1, 11), (FULL_WIDTH, 3, 2), (FULL_WIDTH, 4, 7)]
    fixed = cleaned(text, "python")
    assert ast.parse(fixed) and fixed.splitlines()[1] == 'Y = "a\u00a0b “c”"'  # strings keep their data


def test_yaml_quoted_invisible_is_reported_text_is_not():
    text = 'services:\n\tweb:\n  \u00a0 image: "nginx\u00a0"  # 注释：\n    title: "首页：欢迎"\n    x： 1\n'
    assert found(text, "yaml") == [(TAB, 2, 1), (SPACE, 3, 3), (SPACE, 3, 18), (FULL_WIDTH, 5, 6)]
    assert [o.quoted for o in scan(text, "yaml")] == [False, False, True, False]
    assert found("a: it's\u00a0x\n", "yaml") == [(SPACE, 1, 8)]  # an apostrophe inside a value quotes nothing


def test_byte_order_mark_per_kind():
    for kind in ("python", "yaml", "dockerfile", "sql"):
        assert found("\ufeffx = 1\n", kind) == [], kind
    for kind in ("env", "nginx", "ini", "cnf", "redis", "shell"):
        assert found("\ufeffx = 1\n", kind) == [(BOM, 1, 1)], kind
    assert found("a\ufeffb\n", "nginx") == [(ZERO_WIDTH, 1, 2)]  # not at the start: zero width
    assert cleaned("\ufeffx = 1\n", "python") == "x = 1\n"


def test_comments_per_kind():
    assert found("a#b：\n", "nginx") == [(FULL_WIDTH, 1, 4)]  # '#' inside a word starts no comment
    assert found("a #b：\n", "nginx") == []
    assert found("socket = x # y：\n", "ini") == [(FULL_WIDTH, 1, 15)]  # uWSGI: comments only at line start
    assert found("-- 注释：\nSELECT 1； /* ： */\n", "sql") == [(FULL_WIDTH, 2, 9)]


def test_cleaning_keeps_every_line():
    text = "a\u200b\u00a0= 1\n\u3000b：2\n"
    assert cleaned(text, "cnf") == "a = 1\n b:2\n"
    assert len(cleaned(SEED_CACHES, "python").splitlines()) == len(SEED_CACHES.splitlines())
