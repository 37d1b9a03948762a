"""The breaking-migration detector: the classifier on a captured plan, the static reader on the same
files, and compose/web/migration_plan.py run for real against a small Django project on SQLite.

The sample project is tests/data/migrations/project: shop's 0001_initial is applied, everything else
is pending. 0002_safe and blog's 0001_initial hold only operations the old release survives; each of
shop's 0003..0011 holds one kind the old release cannot survive. tests/data/migrations/plan.json is
what the script printed for it (regenerate it with the real-Django test below, which compares to it).
"""

from __future__ import annotations

import json
import importlib.util
import os
import sys
import sqlite3
import subprocess
from pathlib import Path

import pytest

from djstack import migrations as mig
from djstack import render
from djstack.errors import DjstackError
from helpers import copy_project, unavailable, write_tree

DATA = Path(__file__).parent / "data" / "migrations"
PROJECT = DATA / "project"
SHOP = PROJECT / "shop" / "migrations"
BLOG = PROJECT / "blog" / "migrations"

#: (migration, operation) of everything the old release cannot survive, in plan order.
EXPECTED = [
    ("0003_remove_field", "RemoveField product.legacy_note"),
    ("0004_delete_model", "DeleteModel coupon"),
    ("0005_rename_field", "RenameField product.colour -> color"),
    ("0006_rename_model", "RenameModel supplier -> vendor"),  # Warehouse -> Depot keeps its db_table: safe
    ("0007_alter_not_null", "AlterField product.color"),
    ("0008_alter_type", "AlterField product.name"),  # varchar(100) -> varchar(60); stock int -> bigint is safe
    ("0008_alter_type", "AlterField product.price"),
    ("0009_alter_table", "AlterModelTable category"),
    ("0010_raw_sql", "RunSQL"),  # DROP COLUMN summary; the RENAME is of a table the plan creates
    ("0011_add_not_null", "AddField product.barcode"),
    ("0011_add_not_null", "AddField product.supplier"),
]
PENDING = ["shop.0002_safe", "blog.0001_initial"] + [f"shop.{name}" for name in dict.fromkeys(m for m, _ in EXPECTED)]


def captured() -> dict:
    return json.loads((DATA / "plan.json").read_text())


def pending_files() -> list[Path]:
    return sorted(SHOP.glob("0*.py"))[1:] + [BLOG / "0001_initial.py"]


def pairs(found) -> list[tuple[str, str]]:
    return [(b.migration, b.operation) for b in found]


# -- the classifier on the engine's plan -----------------------------------------------------------


def test_the_captured_plan_lists_the_pending_migrations_in_plan_order():
    plan = captured()
    assert [f"{m['app']}.{m['name']}" for m in plan["plan"]] == PENDING
    assert plan["plan"][0]["file"] == "migrations/0002_safe.py"
    assert sorted(plan["schema"]["tables"]) == sorted(
        ["shop_category", "shop_product", "shop_coupon", "shop_supplier", "stock_warehouse"])


def test_each_breaking_kind_is_caught_once_and_nothing_safe_is():
    assert pairs(mig.breaking(captured())) == EXPECTED


def test_safe_operations_alone_are_not_breaking():
    plan = captured()
    plan["plan"] = [m for m in plan["plan"] if m["name"] in ("0002_safe", "0001_initial")]
    kinds = {op["type"] for m in plan["plan"] for op in m["operations"]}
    assert {"AddField", "AddIndex", "CreateModel", "RemoveConstraint", "AlterField", "RenameField",
            "DeleteModel", "RunPython", "RunSQL"} <= kinds
    assert mig.breaking(plan) == []


def test_why_and_fix_name_the_thing_and_the_way_round():
    found = {b.operation: b for b in mig.breaking(captured())}
    removed = found["RemoveField product.legacy_note"]
    assert "legacy_note" in removed.why and "SeparateDatabaseAndState" in removed.fix
    assert removed.location == "migrations/0003_remove_field.py"
    added = found["AddField product.barcode"]
    assert "NOT NULL" in added.why and "default=" in added.why and "db_default" in added.fix
    assert "varchar(100) to varchar(60)" in found["AlterField product.name"].why
    assert "db_column=\"colour\"" in found["RenameField product.colour -> color"].fix
    assert "DROP COLUMN summary" in found["RunSQL"].why
    text = mig.report(mig.breaking(captured()))
    assert text.startswith("11 pending migration operation(s)") and "shop.0009_alter_table" in text


def test_an_operation_on_what_the_old_release_no_longer_knows_is_a_contract_step():
    # Release 1 dropped `note` from the state only; release 2's SQL drops the column: safe then,
    # breaking when both are pending at once (the running release still has the field).
    plan = {"schema": {"complete": True, "tables": {"shop_item": ["id"]}}, "plan": [
        {"app": "shop", "name": "0003_drop_note", "operations": [
            {"type": "RunSQL", "sql": ["ALTER TABLE shop_item DROP COLUMN note"]},
            {"type": "RunSQL", "sql": ["DROP TABLE shop_gone"]},
        ]},
    ]}
    assert mig.breaking(plan) == []
    plan["schema"]["tables"]["shop_item"].append("note")
    assert pairs(mig.breaking(plan)) == [("0003_drop_note", "RunSQL")]


def test_separate_database_and_state_is_judged_by_its_database_operations():
    field = {"class": "django.db.models.TextField", "null": True, "column": "note"}
    remove = {"type": "RemoveField", "model": "item", "name": "note", "table": "shop_item", "old": field}
    plan = {"schema": {"complete": True, "tables": {"shop_item": ["id", "note"]}}, "plan": [
        {"app": "shop", "name": "0002", "operations": [
            {"type": "SeparateDatabaseAndState", "database_operations": [], "state_operations": ["RemoveField"]},
            {"type": "SeparateDatabaseAndState", "database_operations": [remove], "state_operations": []},
        ]},
    ]}
    assert pairs(mig.breaking(plan)) == [("0002", "RemoveField item.note")]


@pytest.mark.parametrize("old,new,widens", [
    ("varchar(50)", "varchar(100)", True),
    ("varchar(100)", "varchar(60)", False),
    ("varchar(100)", "longtext", True),
    ("text", "varchar(100)", False),
    ("integer", "bigint", True),
    ("bigint", "integer", False),
    ("integer AUTO_INCREMENT", "bigint AUTO_INCREMENT", True),
    ("integer", "integer unsigned", False),
    ("numeric(8, 2)", "numeric(10, 2)", True),
    ("numeric(8, 2)", "numeric(8, 3)", False),
    ("decimal", "integer", False),
    ("varchar(20)", "varchar(20)", True),
])
def test_column_type_widening(old, new, widens):
    assert mig.widens(old, new) is widens


@pytest.mark.parametrize("sql,hazards", [
    ("ALTER TABLE t DROP COLUMN c", [("drops the column", "t", "c")]),
    ('ALTER TABLE "t" DROP "c", DROP CONSTRAINT t_c_check', [("drops the column", "t", "c")]),
    ("ALTER TABLE t DROP CONSTRAINT x; ALTER TABLE t DROP INDEX i; ALTER TABLE t ALTER c DROP DEFAULT", []),
    ("ALTER TABLE t ALTER COLUMN c SET NOT NULL", [("makes NOT NULL the column", "t", "c")]),
    ("ALTER TABLE t ALTER COLUMN c TYPE bigint", [("changes the column type of", "t", "c")]),
    ("ALTER TABLE `t` CHANGE `a` `b` decimal(8, 2) NOT NULL", [("redefines the column", "t", "a")]),
    ("alter table t rename column a to b", [("renames the column", "t", "a")]),
    ("RENAME TABLE t TO u", [("renames the table", "t", None)]),
    ("DROP TABLE IF EXISTS t", [("drops the table", "t", None)]),
    ("UPDATE t SET note = 'DROP TABLE t; ALTER TABLE t DROP COLUMN c' -- DROP TABLE t", []),
    ("/* DROP TABLE t */ CREATE INDEX i ON t (c)", []),
])
def test_sql_hazards(sql, hazards):
    assert mig.sql_hazards(sql) == hazards


def test_parse_plan_reports_the_scripts_error_and_conflicts():
    with pytest.raises(DjstackError, match="could not list its pending migrations: OperationalError: no db"):
        mig.parse_plan('warning printed first\n{"error": "OperationalError: no db"}\n')
    with pytest.raises(DjstackError, match="conflicting migrations.*shop: 0002_a, 0002_b") as err:
        mig.parse_plan(json.dumps({"conflicts": {"shop": ["0002_a", "0002_b"]}, "plan": []}))
    assert "makemigrations --merge" in err.value.fix
    with pytest.raises(DjstackError, match="did not print a migration plan"):
        mig.parse_plan("Traceback (most recent call last):\n  boom")
    assert mig.parse_plan(json.dumps(captured()))["plan"][0]["name"] == "0002_safe"


# -- the static reader -----------------------------------------------------------------------------


def test_the_static_reader_finds_the_same_as_the_engine():
    found = mig.breaking_in_files(pending_files())
    assert pairs(found) == EXPECTED
    assert found[0].location == f"{SHOP / '0003_remove_field.py'}:7"


def test_the_static_reader_knows_old_definitions_from_earlier_files():
    plan = mig.read_migration_files([SHOP / "0007_alter_not_null.py"])
    (op,) = plan["plan"][0]["operations"]
    assert op["old"]["null"] is True and op["old"]["column"] == "color"  # colour, renamed in 0005
    assert op["new"]["null"] is False and op["new"]["has_default"] is True
    assert "shop_vendor" in plan["schema"]["tables"] and "shop_coupon" in plan["schema"]["retired_tables"]
    # alone, 0007 is breaking; the file without its app's history says nothing about the old field
    assert pairs(mig.breaking_in_files([SHOP / "0007_alter_not_null.py"])) == [("0007_alter_not_null", "AlterField product.color")]


def test_the_static_reader_on_a_contract_release(tmp_path):
    folder = tmp_path / "notes" / "migrations"
    write_tree(folder, {
        "__init__.py": "",
        "0001_initial.py": '''from django.db import migrations, models

class Migration(migrations.Migration):
    operations = [migrations.CreateModel("Note", [("id", models.AutoField(primary_key=True)),
                                                   ("body", models.TextField(null=True))])]
''',
        "0002_forget_body.py": '''from django.db import migrations

class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField("note", "body")])]
''',
        "0003_drop_body.py": '''from django.db import migrations

class Migration(migrations.Migration):
    dependencies = [("notes", "0002_forget_body")]
    operations = [migrations.RunSQL("ALTER TABLE notes_note DROP COLUMN body", migrations.RunSQL.noop)]
''',
        "helpers.py": "def not_a_migration(): pass\n",
    })
    assert mig.breaking_in_files([folder / "0002_forget_body.py"]) == []
    assert mig.breaking_in_files([folder / "0003_drop_body.py"]) == []  # release 2: nothing running knows body
    both = mig.breaking_in_files([folder / "0002_forget_body.py", folder / "0003_drop_body.py"])
    assert pairs(both) == [("0003_drop_body", "RunSQL")]
    assert both[0].location.endswith("0003_drop_body.py:5")


def test_the_static_reader_names_a_bad_file(tmp_path):
    folder = write_tree(tmp_path / "app" / "migrations", {"0001_x.py": "class Migration(:\n", "0002_y.py": "X = 1\n"})
    with pytest.raises(DjstackError, match=r"0001_x.py:1: not valid Python"):
        mig.read_migration_files([folder / "0001_x.py"])
    with pytest.raises(DjstackError, match=r"0002_y.py: no `class Migration`"):
        mig.read_migration_files([folder / "0002_y.py"])


# -- the script, for real --------------------------------------------------------------------------


@pytest.fixture
def django_python() -> str:
    """An interpreter with Django: the test environment's own (`.[test]` installs Django for these
    tests), or DJSTACK_DJANGO_PYTHON. Skipped without one, failed in CI."""
    python = os.environ.get("DJSTACK_DJANGO_PYTHON")
    if python:
        return python
    if importlib.util.find_spec("django") is not None:
        return sys.executable
    unavailable("Django is not installed in the test environment (scripts/dev-setup.sh installs `.[test]`)")


def rendered_script(tmp_path: Path, example_copy: Path) -> Path:
    from test_render import golden_stack

    template = render._env.get_template("compose/web/migration_plan.py.j2")
    script = tmp_path / "migration_plan.py"
    script.write_text(template.render(s=golden_stack(example_copy, "official")))
    return script


def run_script(python, script, project, db) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAMPLE_DB": str(db), "DJANGO_SETTINGS_MODULE": "sampleproj.settings"}
    return subprocess.run([python, str(script)], cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_the_script_lists_exactly_the_unapplied_migrations_and_applies_none(django_python, tmp_path, example_copy):
    project = tmp_path / "project"
    copy_project(PROJECT, project)
    db = tmp_path / "db.sqlite3"
    env = {**os.environ, "SAMPLE_DB": str(db)}
    subprocess.run([django_python, "manage.py", "migrate", "shop", "0001"], cwd=project, env=env,
                   check=True, capture_output=True)
    script = rendered_script(tmp_path, example_copy)
    before = sqlite3.connect(db).execute("SELECT app, name FROM django_migrations").fetchall()

    result = run_script(django_python, script, project, db)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = mig.parse_plan(result.stdout)
    assert [f"{m['app']}.{m['name']}" for m in plan["plan"]] == PENDING
    assert plan["vendor"] == "sqlite" and plan["django"].startswith("5.2")
    # the captured test data is this output
    expected = captured()
    assert {k: v for k, v in plan.items() if k != "django"} == {k: v for k, v in expected.items() if k != "django"}
    assert pairs(mig.breaking(plan)) == EXPECTED
    after = sqlite3.connect(db).execute("SELECT app, name FROM django_migrations").fetchall()
    assert after == before == [("shop", "0001_initial")]
    tables = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "shop_review" not in tables and "shop_coupon" in tables

    # a database nothing was applied to: everything pending, and the recorder's table is not created
    fresh = tmp_path / "fresh.sqlite3"
    result = run_script(django_python, script, project, fresh)
    plan = mig.parse_plan(result.stdout)
    assert [f"{m['app']}.{m['name']}" for m in plan["plan"]] == ["shop.0001_initial", *PENDING]
    assert plan["schema"]["tables"] == {} and mig.breaking(plan) == []
    assert not fresh.exists() or not sqlite3.connect(fresh).execute(
        "SELECT name FROM sqlite_master WHERE name='django_migrations'").fetchall()


def test_the_script_reports_a_broken_release_as_one_json_error(django_python, tmp_path, example_copy):
    project = tmp_path / "project"
    copy_project(PROJECT, project)
    (project / "shop" / "migrations" / "0012_broken.py").write_text(
        "from django.db import migrations\nimport not_installed_anywhere\n")
    result = run_script(django_python, rendered_script(tmp_path, example_copy), project, tmp_path / "db.sqlite3")
    assert result.returncode == 1
    with pytest.raises(DjstackError, match="not_installed_anywhere"):
        mig.parse_plan(result.stdout)
