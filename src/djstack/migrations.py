"""Which pending migrations the running release cannot survive.

`djstack deploy` runs the NEW release's migrations once, while the OLD release still serves. The old
code's models are the end state of the migrations already applied (`schema` in the plan), so an
operation is a problem exactly when it changes a table or column that code still reads or writes:

| operation                                   | verdict  | why, for the old release                               |
|---------------------------------------------|----------|--------------------------------------------------------|
| CreateModel, AddIndex, AddConstraint,       | safe     | it does not know the new table, index or constraint;  |
| RemoveIndex, RemoveConstraint, RenameIndex, |          | options and managers live in Python only               |
| AlterUniqueTogether, AlterModelOptions, ... |          |                                                        |
| AddField nullable, with db_default,         | safe     | its inserts leave the column out and the database     |
| many-to-many or generated                   |          | fills it (NULL, the db_default, a join table)          |
| AddField NOT NULL without db_default        | BREAKING | its inserts leave the column out and fail: a Python   |
|                                             |          | default= only fills the existing rows                  |
| RemoveField                                 | BREAKING | every query on the model selects the column           |
| DeleteModel (managed, not proxy)            | BREAKING | it still reads and writes the table                   |
| RenameField (the column name changes)       | BREAKING | it asks for the old column name                       |
| RenameModel, AlterModelTable (table moves)  | BREAKING | it asks for the old table name                        |
| AlterField null -> NOT NULL                 | BREAKING | it may still save None there                          |
| AlterField column type changes              | BREAKING | it writes values of the old type (a longer max_length,|
|   (widening: longer varchar, varchar->text, |  (safe)  |   a wider integer or decimal takes everything it      |
|   smallint->integer->bigint, more digits)   |          |   writes, so those are safe)                           |
| AlterField that renames the column          | BREAKING | as RenameField                                         |
| AlterOrderWithRespectTo adding or removing  | BREAKING | adds a NOT NULL `_order` it does not set / drops one  |
|                                             |          | it selects                                             |
| RunSQL: DROP TABLE/COLUMN, RENAME, ALTER .. | BREAKING | as the operations above, unless the table or column   |
|   DROP COLUMN, SET NOT NULL, TYPE, MODIFY,  |          | is one the old release no longer knows (a contract    |
|   CHANGE                                    |          | step); DROP CONSTRAINT/INDEX/DEFAULT are safe          |
| RunPython                                   | safe     | data, not schema (reversibility is reported)           |
| SeparateDatabaseAndState                    | its database_operations are judged, the state ones touch nothing |

Operations on models or fields the old release does not know (created earlier in the same plan) are
safe. Models with `managed = False` or `proxy = True` have no table migrate touches.

The way round every BREAKING row is expand/contract over two releases: **expand** first (add the new
column nullable or with a db_default, the new table, the new name beside the old), deploy code that
writes both and stops reading the old one; **contract** in a later release (drop what no running
code uses any more). A field leaves the model in release 1 with
`SeparateDatabaseAndState(state_operations=[RemoveField(...)])` (after making it nullable, so the new
code can insert without it) and leaves the database in release 2 with `RunSQL("ALTER TABLE ... DROP
COLUMN ...")` — which this module then calls safe, because the running release no longer knows it.

Two readers give the same plan shape: the script `compose/web/migration_plan.py` (Django's own
loader inside the new image, the database's applied migrations, exact column types) and
`read_migration_files` (the files alone, with `ast`: for the fast tests and for `djstack check`,
where nothing runs; it knows a field's old definition only from earlier migrations of the same app).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DjstackError
from .model import STACK_FILES

#: Where the script lives in the stack, and how deploy runs it in the new image.
SCRIPT = STACK_FILES.migration_plan


@dataclass(frozen=True)
class Breaking:
    """One operation the running release cannot survive, worded for the person deploying."""

    app: str
    migration: str
    operation: str  # "RemoveField product.legacy_note"
    why: str
    fix: str
    location: str | None = None  # file (and line) when known


# -- the engine's plan -----------------------------------------------------------------------------


def parse_plan(stdout: str) -> dict:
    """The JSON the script printed, or a DjstackError with what went wrong inside the container."""
    lines = stdout.strip().splitlines()
    try:
        try:
            data = json.loads(stdout)
        except json.JSONDecodeError:
            data = json.loads(lines[-1])  # something printed before the one-line error object
    except (json.JSONDecodeError, IndexError) as exc:
        raise DjstackError(
            f"{SCRIPT} did not print a migration plan ({exc}); it printed:\n{stdout[-2000:]}",
            f"Run `docker compose run --rm web python {SCRIPT}` to see the error.",
        ) from None
    if "error" in data:
        raise DjstackError(
            f"The new release could not list its pending migrations: {data['error']}",
            "Fix the error (settings, a migration that fails to import, the database unreachable), then deploy again.",
        )
    if data.get("conflicts"):
        listed = "; ".join(f"{app}: {', '.join(names)}" for app, names in sorted(data["conflicts"].items()))
        raise DjstackError(
            f"The new release has conflicting migrations (more than one leaf per app): {listed}",
            "Run `manage.py makemigrations --merge`, commit the merge migration, then deploy again.",
        )
    return data


# -- the classifier --------------------------------------------------------------------------------


class _Known:
    """What the running release knows: the schema of the applied migrations."""

    def __init__(self, schema: dict | None):
        self.complete = bool(schema and schema.get("complete"))
        self.tables = {t.lower(): {c.lower() for c in cols} for t, cols in ((schema or {}).get("tables") or {}).items()}
        self.retired = {t.lower() for t in (schema or {}).get("retired_tables") or []}
        self.created: set[str] = set()  # tables the plan creates before it touches them
        self.given = schema is not None

    def table(self, table: str | None) -> bool:
        if table is None or not self.given:
            return True  # nothing to tell: assume the worst
        table = table.lower()
        if table in self.tables:
            return True
        return not self.complete and table not in self.retired and table not in self.created

    def moved(self, old: str | None, new: str | None, column: tuple[str, str] | None = None) -> None:
        """A rename earlier in the plan: what the old release knows under the old name stays known."""
        if old is None or new is None:
            return
        if column is None:
            if old.lower() in self.tables:
                self.tables[new.lower()] = set(self.tables[old.lower()])
        elif old.lower() in self.tables:
            self.tables[old.lower()].add(column[1].lower())

    def column(self, table: str | None, column: str | None) -> bool:
        if not self.table(table):
            return False
        if table is None or column is None or table.lower() not in self.tables:
            return True
        return column.lower() in self.tables[table.lower()]


_INT_RANK = {"smallint": 1, "integer": 2, "int": 2, "bigint": 3}
_TYPE = re.compile(r"([a-z]+(?: varying| precision)?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?((?:\s+[a-z_]+)*)")


def widens(old: str, new: str) -> bool:
    """True when every value a column of type `old` holds fits one of type `new`."""
    a, b = _TYPE.fullmatch(old.lower().strip()), _TYPE.fullmatch(new.lower().strip())
    if old.lower().strip() == new.lower().strip():
        return True
    if not a or not b or a.group(4).strip() != b.group(4).strip():
        return False
    base_a, base_b = a.group(1).strip(), b.group(1).strip()
    if base_a in _INT_RANK and base_b in _INT_RANK:
        return _INT_RANK[base_b] >= _INT_RANK[base_a]
    if base_a in ("varchar", "char", "character varying") and base_b in ("text", "longtext", "mediumtext"):
        return True
    if base_a == base_b and a.group(2) and b.group(2):
        if base_a in ("varchar", "character varying", "varbinary"):
            return int(b.group(2)) >= int(a.group(2))
        if base_a in ("decimal", "numeric"):
            scale_a, scale_b = int(a.group(3) or 0), int(b.group(3) or 0)
            return scale_a == scale_b and int(b.group(2)) >= int(a.group(2))
    return False


def _short(field_class: str | None) -> str:
    return (field_class or "?").rsplit(".", 1)[-1]


def breaking(plan: dict | list[dict]) -> list[Breaking]:
    """The operations of `plan` (the script's JSON, or its "plan" list) the running release cannot survive."""
    migrations = plan["plan"] if isinstance(plan, dict) else plan
    known = _Known(plan.get("schema") if isinstance(plan, dict) else None)
    found: list[Breaking] = []
    new_models: set[tuple[str, str]] = set()
    new_fields: set[tuple[str, str, str]] = set()
    for migration in migrations:
        app, name = migration["app"], migration["name"]
        location = migration.get("file")
        for op in migration.get("operations", []):
            for label, why, fix in _judge(app, op, known, new_models, new_fields):
                found.append(Breaking(app, name, label, why, fix, op.get("location") or location))
    return found


def _judge(app, op, known, new_models, new_fields):
    """(operation, why, fix) for each problem in one operation; records what the plan creates."""
    kind = op.get("type")
    if kind == "SeparateDatabaseAndState":
        for inner in op.get("database_operations") or []:
            yield from _judge(app, inner, known, new_models, new_fields)
        return
    model = op.get("model")
    if kind == "CreateModel":
        new_models.add((app, model))
        if op.get("table") and op["table"].lower() not in known.tables:
            known.created.add(op["table"].lower())
        return
    if kind == "RunSQL":
        yield from _judge_sql(op, known)
        return
    if op.get("managed") is False:
        return  # proxy or unmanaged: migrate touches no table
    table = op.get("table") or op.get("old_table")
    if (app, model) in new_models or (kind == "RenameModel" and (app, op.get("old_name")) in new_models):
        if kind == "RenameModel":
            new_models.add((app, op.get("new_name")))
        return
    if kind == "AddField":
        new_fields.add((app, model, op.get("name")))
        new = op.get("new") or op.get("field") or {}
        if not known.table(table) or new.get("null") is not False:
            return  # nullable, or unknown from the file alone
        if new.get("has_db_default") or new.get("many_to_many") or new.get("generated"):
            return
        field = f"{model}.{op['name']}"
        yield (
            f"AddField {field}",
            f"adds {field} as NOT NULL without a database default (a Python default= only fills the rows "
            f"that exist now): the running release inserts {model} rows without it, and each of those "
            f"inserts fails until the new release is live.",
            "Add it with null=True (or db_default=... so the database fills it for the old code), deploy code "
            "that always sets it, backfill the old rows, and make it NOT NULL in a later release.",
        )
        return
    if kind in ("RemoveField", "AlterField", "RenameField"):
        field_name = op.get("name") or op.get("old_name")
        if (app, model, field_name) in new_fields:
            if kind == "RenameField":
                new_fields.add((app, model, op.get("new_name")))
            return
        old, new = op.get("old") or {}, op.get("new") or {}
        column = old.get("column") or field_name
        if not known.column(table, column):
            return
        if kind == "RenameField":
            known.moved(table, table, (column, new.get("column") or op.get("new_name") or column))
        yield from _judge_field(kind, model, op, old, new)
        return
    if kind == "DeleteModel" and known.table(table):
        yield (
            f"DeleteModel {model}",
            f"drops the table {table or model}, which the running release still reads and writes through "
            f"{model}: its pages that use it fail until the new release is live.",
            f"Release 1: stop using {model} and drop it from Django's state only "
            f"(SeparateDatabaseAndState(state_operations=[DeleteModel(...)])). Release 2: drop the table "
            f"(RunSQL(\"DROP TABLE {table or '...'}\")).",
        )
    elif kind in ("RenameModel", "AlterModelTable"):
        old_table, new_table = op.get("old_table"), op.get("new_table")
        if kind == "RenameModel":
            new_models.add((app, op.get("new_name")))
        if old_table is not None and new_table is not None and old_table.lower() == new_table.lower():
            return
        if not known.table(old_table):
            return
        known.moved(old_table, new_table)
        what = f"{op.get('old_name')} -> {op.get('new_name')}" if kind == "RenameModel" else model
        moved = f"{old_table} to {new_table}" if old_table and new_table else "the table"
        yield (
            f"{kind} {what}",
            f"renames the table {moved}: the running release still queries {old_table or 'the old name'} and "
            f"fails until the new release is live.",
            f"Keep the table name: set Meta.db_table = \"{old_table or '...'}\" on the model, so the rename "
            f"stays in Python; or move it in two releases (the new table beside the old, code that writes "
            f"both, the old one dropped later).",
        )
    elif kind == "AlterOrderWithRespectTo":
        before, after = op.get("old_order_with_respect_to"), op.get("new_order_with_respect_to")
        if bool(before) == bool(after) or not known.table(table):
            return
        if after:
            why = (f"adds the NOT NULL column {model}._order, which the running release does not set: its "
                   f"inserts of {model} fail.")
        else:
            why = f"drops the column {model}._order, which the running release still selects."
        yield (
            f"AlterOrderWithRespectTo {model}",
            why,
            "Change order_with_respect_to in a release of its own, deployed with a short maintenance "
            "window (`--allow-breaking-migrations`), or keep an explicit ordering field instead.",
        )


def _judge_field(kind, model, op, old, new):
    if kind == "RemoveField":
        field = f"{model}.{op['name']}"
        yield (
            f"RemoveField {field}",
            f"drops the column {old.get('column') or op['name']} of {model}, which the running release "
            f"still selects in every query on {model}: those queries fail until the new release is live.",
            f"Release 1: remove the field from the model and drop it from Django's state only "
            f"(SeparateDatabaseAndState(state_operations=[RemoveField(...)])), after making it nullable "
            f"so the new code can insert without it. Release 2: drop the column (RunSQL(\"ALTER TABLE ... "
            f"DROP COLUMN {old.get('column') or op['name']}\")).",
        )
        return
    if kind == "RenameField":
        old_col, new_col = old.get("column"), new.get("column")
        if old_col and new_col and old_col.lower() == new_col.lower():
            return  # db_column kept: nothing moves in the database
        field = f"{model}.{op['old_name']} -> {op['new_name']}"
        yield (
            f"RenameField {field}",
            f"renames the column {old_col or op['old_name']} to {new_col or op['new_name']}: the running "
            f"release still asks for {old_col or op['old_name']}, and every query on {model} fails until the "
            f"new release is live.",
            f"Keep the column: give the renamed field db_column=\"{old_col or op['old_name']}\" (the rename "
            f"then stays in Python). Or add the new field, write both, copy the data, and drop the old one "
            f"in a later release.",
        )
        return
    # AlterField: only what the state knows of the old field can tell
    if not old or not new:
        return
    field = f"{model}.{op['name']}"
    if old.get("column") and new.get("column") and old["column"].lower() != new["column"].lower():
        yield (
            f"AlterField {field}",
            f"moves {field} from the column {old['column']} to {new['column']}: the running release "
            f"still asks for {old['column']}.",
            f"Keep db_column=\"{old['column']}\" on the field, or add the new column beside the old and "
            f"drop the old one in a later release.",
        )
    if old.get("null") is True and new.get("null") is False:
        yield (
            f"AlterField {field}",
            f"makes {field} NOT NULL: the running release may still save rows with it empty (None), and "
            f"those inserts and updates fail until the new release is live.",
            f"Deploy code that always sets {op['name']} first and backfill the empty rows (RunPython); make "
            f"it NOT NULL in a later release.",
        )
    old_type, new_type = old.get("db_type"), new.get("db_type")
    if old_type and new_type:
        changed = not widens(old_type, new_type)
        detail = f"from {old_type} to {new_type}"
    else:
        changed = _short(old.get("class")) != _short(new.get("class"))
        detail = f"from {_short(old.get('class'))} to {_short(new.get('class'))}"
    if changed:
        yield (
            f"AlterField {field}",
            f"changes the column type of {field} {detail}: the running release still reads and writes "
            f"values of the old type, and the ones the new type cannot hold are rejected or cut.",
            "Expand/contract: add a column of the new type beside the old, write both from the new code, "
            "copy the data, switch reads, drop the old column in a later release. Widening (a longer "
            "max_length, integer to bigint, more digits) is safe as it is.",
        )


# -- raw SQL ---------------------------------------------------------------------------------------

_STRINGS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)
_IDENT = r"[`\"\[]?([\w.$]+)[`\"\]]?"
_DROP_TABLE = re.compile(rf"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_IDENT}", re.I)
_RENAME_TABLE = re.compile(rf"^RENAME\s+TABLE\s+{_IDENT}", re.I)
_ALTER_TABLE = re.compile(rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_IDENT}\s+(.*)$", re.I | re.S)
_SAFE_DROP = re.compile(r"^DROP\s+(CONSTRAINT|INDEX|KEY|PRIMARY|FOREIGN|CHECK|DEFAULT|TRIGGER)\b", re.I)
_CLAUSES = [
    (re.compile(rf"^DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?{_IDENT}", re.I), "drops the column"),
    (re.compile(rf"^RENAME\s+(?:COLUMN\s+)?{_IDENT}\s+TO\b", re.I), "renames the column"),
    (re.compile(r"^RENAME\s+(?:TO|AS)\b", re.I), "renames the table"),
    (re.compile(rf"^ALTER\s+(?:COLUMN\s+)?{_IDENT}\s+(?:SET\s+DATA\s+)?TYPE\b", re.I), "changes the column type of"),
    (re.compile(rf"^ALTER\s+(?:COLUMN\s+)?{_IDENT}\s+SET\s+NOT\s+NULL\b", re.I), "makes NOT NULL the column"),
    (re.compile(rf"^(?:MODIFY|CHANGE)\s+(?:COLUMN\s+)?{_IDENT}", re.I), "redefines the column"),
]


def _top_level_split(text: str, sep: str) -> list[str]:
    """Split at `sep` outside parentheses (a varchar(10) or decimal(8, 2) stays whole)."""
    parts, depth, current = [], 0, []
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def sql_hazards(sql: str) -> list[tuple[str, str, str | None]]:
    """(what, table, column) for each statement that drops, renames or redefines a table or column."""
    found = []
    for statement in _top_level_split(_STRINGS.sub("''", sql), ";"):
        statement = " ".join(statement.split())
        if m := _DROP_TABLE.match(statement):
            found.append(("drops the table", m.group(1), None))
        elif m := _RENAME_TABLE.match(statement):
            found.append(("renames the table", m.group(1), None))
        elif m := _ALTER_TABLE.match(statement):
            table = m.group(1)
            for clause in _top_level_split(m.group(2), ","):
                if _SAFE_DROP.match(clause):
                    continue
                for pattern, what in _CLAUSES:
                    if c := pattern.match(clause):
                        column = c.group(1) if c.groups() else None
                        found.append((what, table, column))
                        break
    return found


def _judge_sql(op, known):
    for sql in op.get("sql") or []:
        for what, table, column in sql_hazards(sql):
            if not known.column(table, column):
                continue  # the running release no longer knows it: a contract step
            target = f"{table}.{column}" if column else table
            statement = " ".join(sql.split())
            yield (
                "RunSQL",
                f"{what} {target}, which the running release still uses: `{statement[:200]}`.",
                "Change only what no running release uses: first deploy code that stops using it (remove it "
                "from the models with SeparateDatabaseAndState), then run this SQL in a later release.",
            )


# -- the files alone -------------------------------------------------------------------------------

#: Builtin field classes -> a generic column type, enough to compare two definitions of one field.
_STATIC_TYPES = {
    "CharField": "varchar({max_length})", "SlugField": "varchar({max_length})",
    "EmailField": "varchar({max_length})", "URLField": "varchar({max_length})",
    "TextField": "text", "SmallIntegerField": "smallint", "IntegerField": "integer",
    "BigIntegerField": "bigint", "SmallAutoField": "smallint", "AutoField": "integer",
    "BigAutoField": "bigint", "PositiveSmallIntegerField": "smallint unsigned",
    "PositiveIntegerField": "integer unsigned", "PositiveBigIntegerField": "bigint unsigned",
    "BooleanField": "bool", "NullBooleanField": "bool", "DecimalField": "decimal({max_digits},{decimal_places})",
    "FloatField": "real", "DateField": "date", "DateTimeField": "datetime", "TimeField": "time",
    "DurationField": "interval", "UUIDField": "uuid", "JSONField": "json", "BinaryField": "blob",
    "GenericIPAddressField": "varchar(39)", "FileField": "varchar({max_length})",
    "ImageField": "varchar({max_length})", "FilePathField": "varchar({max_length})",
}
_DEFAULT_LENGTH = {"SlugField": 50, "EmailField": 254, "URLField": 200, "FileField": 100,
                   "ImageField": 100, "FilePathField": 100}
_RELATIONS = {"ForeignKey", "OneToOneField"}
_UNKNOWN = object()

#: Each operation's positional parameters, as Django's constructors name them.
_SIGNATURES = {
    "CreateModel": ["name", "fields", "options", "bases", "managers"],
    "DeleteModel": ["name"],
    "RenameModel": ["old_name", "new_name"],
    "AlterModelTable": ["name", "table"],
    "AlterModelOptions": ["name", "options"],
    "AlterOrderWithRespectTo": ["name", "order_with_respect_to"],
    "AddField": ["model_name", "name", "field", "preserve_default"],
    "RemoveField": ["model_name", "name"],
    "AlterField": ["model_name", "name", "field", "preserve_default"],
    "RenameField": ["model_name", "old_name", "new_name"],
    "RunSQL": ["sql", "reverse_sql", "state_operations", "hints", "elidable"],
    "RunPython": ["code", "reverse_code", "atomic", "hints", "elidable"],
    "SeparateDatabaseAndState": ["database_operations", "state_operations"],
    "AddIndex": ["model_name", "index"], "RemoveIndex": ["model_name", "name"],
    "AddConstraint": ["model_name", "constraint"], "RemoveConstraint": ["model_name", "name"],
    "RenameIndex": ["model_name", "new_name", "old_name", "old_fields"],
}


def _name(node: ast.AST) -> str | None:
    """The last part of a called name: `migrations.AddField` -> AddField."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _literal(node: ast.AST | None, default=_UNKNOWN):
    if node is None:
        return default
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _arguments(call: ast.Call, names: list[str]) -> dict[str, ast.AST]:
    bound = dict(zip(names, call.args))
    bound.update({kw.arg: kw.value for kw in call.keywords if kw.arg})
    return bound


def _field(node: ast.AST, name: str) -> dict:
    """A field definition read from its constructor call, in the script's shape (None where unknown)."""
    if not isinstance(node, ast.Call):
        return {"class": None, "null": None, "column": name}
    cls = _name(node.func)
    kwargs = {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
    null = kwargs.get("null", False)
    db_column = kwargs.get("db_column")
    column = db_column if isinstance(db_column, str) else (f"{name}_id" if cls in _RELATIONS else name)
    if cls in _RELATIONS:
        to = kwargs.get("to", _literal(node.args[0]) if node.args else _UNKNOWN)
        db_type = f"reference to {to}" if isinstance(to, str) else None
    elif cls in _STATIC_TYPES:
        params = {"max_length": kwargs.get("max_length", _DEFAULT_LENGTH.get(cls)),
                  "max_digits": kwargs.get("max_digits"), "decimal_places": kwargs.get("decimal_places")}
        template = _STATIC_TYPES[cls]
        needed = re.findall(r"{(\w+)}", template)
        ok = all(isinstance(params[p], int) for p in needed)
        db_type = template.format(**params) if ok else None
    else:
        db_type = None
    return {
        "class": cls,
        "null": null if isinstance(null, bool) else None,
        "has_default": "default" in kwargs,
        "has_db_default": "db_default" in kwargs,
        "generated": cls == "GeneratedField",
        "many_to_many": cls == "ManyToManyField",
        "column": column,
        "db_type": db_type,
        "kwargs": {k: v for k, v in kwargs.items() if v is not _UNKNOWN and isinstance(v, (str, int, float, bool, type(None)))},
    }


@dataclass
class _ModelState:
    table: str
    managed: bool
    fields: dict[str, dict]
    order_wrt: str | None = None


class _StaticState:
    """The models of one app as its migration files build them, enough to know a field's old definition."""

    def __init__(self, app: str):
        self.app = app
        self.models: dict[str, _ModelState] = {}
        self.retired: set[str] = set()

    def default_table(self, model: str) -> str:
        return f"{self.app}_{model}"

    def schema(self) -> dict:
        tables = {m.table: [f["column"] for f in m.fields.values()] for m in self.models.values() if m.managed}
        return {"complete": False, "tables": tables, "retired_tables": sorted(self.retired - set(tables))}

    def model(self, name) -> _ModelState | None:
        return self.models.get(name.lower()) if isinstance(name, str) else None

    def describe(self, call: ast.Call, path: Path) -> dict:
        """One operation as data, then the state moved past it (as migrate's state_forwards would)."""
        kind = _name(call.func) or "?"
        args = _arguments(call, _SIGNATURES.get(kind, []))
        lit = {k: _literal(v) for k, v in args.items()}
        entry: dict = {"type": kind, "location": f"{path}:{call.lineno}"}

        def text(key):
            value = lit.get(key)
            return value.lower() if isinstance(value, str) else None

        if kind == "SeparateDatabaseAndState":
            database = args.get("database_operations")
            shadow = _StaticState(self.app)  # database operations run on a copy of the state
            shadow.models = {k: _ModelState(m.table, m.managed, dict(m.fields), m.order_wrt) for k, m in self.models.items()}
            shadow.retired = set(self.retired)
            entry["database_operations"] = [shadow.describe(c, path) for c in _calls(database)]
            state_ops = list(_calls(args.get("state_operations")))
            entry["state_operations"] = [_name(c.func) for c in state_ops]
            for c in state_ops:
                self.describe(c, path)
            return entry
        if kind == "CreateModel":
            model = text("name")
            options = lit.get("options") if isinstance(lit.get("options"), dict) else {}
            fields = {}
            for pair in getattr(args.get("fields"), "elts", []):
                if isinstance(pair, ast.Tuple) and len(pair.elts) == 2 and isinstance(_literal(pair.elts[0]), str):
                    fname = _literal(pair.elts[0])
                    fields[fname] = _field(pair.elts[1], fname)
            entry.update(model=model, fields=list(fields))
            if model:
                table = options.get("db_table") if isinstance(options.get("db_table"), str) else self.default_table(model)
                managed = options.get("managed", True) is not False and not options.get("proxy", False)
                if managed:
                    entry["table"] = table
                self.models[model] = _ModelState(table, managed, fields if managed else {}, options.get("order_with_respect_to"))
            return entry
        if kind in ("AddField", "RemoveField", "AlterField"):
            model, name = text("model_name"), lit.get("name")
            state = self.model(model)
            entry.update(model=model, name=name)
            if state:
                entry.update(table=state.table, managed=state.managed)
            name_ok = isinstance(name, str)
            entry["old"] = state.fields.get(name) if state and name_ok else None
            if kind != "RemoveField" and name_ok:
                entry["new"] = _field(args.get("field"), name)
            if state and name_ok and state.managed:
                if kind == "RemoveField":
                    state.fields.pop(name, None)
                else:
                    state.fields[name] = entry["new"]
            return entry
        if kind == "RenameField":
            model, old_name, new_name = text("model_name"), lit.get("old_name"), lit.get("new_name")
            state = self.model(model)
            entry.update(model=model, old_name=old_name, new_name=new_name)
            if state and isinstance(old_name, str) and isinstance(new_name, str):
                entry.update(table=state.table, managed=state.managed)
                old = state.fields.pop(old_name, None)
                entry["old"] = old
                if old is not None:
                    kept = old["column"] if old.get("kwargs", {}).get("db_column") else (
                        f"{new_name}_id" if old.get("class") in _RELATIONS else new_name)
                    entry["new"] = state.fields[new_name] = {**old, "column": kept}
            return entry
        if kind == "DeleteModel":
            model = text("name")
            state = self.models.pop(model, None) if model else None
            entry.update(model=model)
            if state:
                entry.update(table=state.table, managed=state.managed)
                self.retired.add(state.table)
            return entry
        if kind == "RenameModel":
            old_name, new_name = text("old_name"), text("new_name")
            entry.update(old_name=old_name, new_name=new_name)
            state = self.models.pop(old_name, None) if old_name else None
            if state and new_name:
                entry.update(old_table=state.table, managed=state.managed)
                explicit = state.table != self.default_table(old_name)
                if not explicit:
                    self.retired.add(state.table)
                    state.table = self.default_table(new_name)
                entry["new_table"] = state.table
                self.models[new_name] = state
            return entry
        if kind == "AlterModelTable":
            model, table = text("name"), lit.get("table")
            state = self.model(model)
            entry.update(model=model)
            if state and (table is None or isinstance(table, str)):
                entry.update(old_table=state.table, managed=state.managed)
                self.retired.add(state.table)
                state.table = table or self.default_table(model)
                entry["new_table"] = state.table
            return entry
        if kind == "AlterOrderWithRespectTo":
            model, wrt = text("name"), lit.get("order_with_respect_to")
            state = self.model(model)
            entry.update(model=model)
            if state and wrt is not _UNKNOWN:
                entry.update(table=state.table, managed=state.managed,
                             old_order_with_respect_to=state.order_wrt, new_order_with_respect_to=wrt)
                state.order_wrt = wrt
            return entry
        if kind == "RunSQL":
            entry.update(sql=_sql_strings(args.get("sql")), reversible="reverse_sql" in args and lit.get("reverse_sql") is not None)
            return entry
        if kind == "RunPython":
            code = args.get("code")
            entry.update(code=_name(code) if code is not None else None,
                         reversible="reverse_code" in args and lit.get("reverse_code") is not None)
            return entry
        model = text("model_name") or text("name")
        if model:
            entry["model"] = model
        return entry


def _calls(node: ast.AST | None):
    for element in getattr(node, "elts", []):
        if isinstance(element, ast.Call):
            yield element


def _sql_strings(node: ast.AST | None) -> list[str]:
    """RunSQL's statements the file spells out: a string, a list of strings or of (sql, params)."""
    value = _literal(node)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v[0] if isinstance(v, (list, tuple)) and v and isinstance(v[0], str) else v
                for v in value if isinstance(v, str) or (isinstance(v, (list, tuple)) and v and isinstance(v[0], str))]
    # a list mixing literals and names: keep the literal strings
    return [s for element in getattr(node, "elts", []) for s in _sql_strings(element)]


@dataclass(frozen=True)
class _MigrationFile:
    path: Path
    name: str
    dependencies: list[str]  # names in the same app
    operations: list[ast.Call]


def _read(path: Path, required: bool) -> _MigrationFile | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8-sig"), filename=str(path))
    except SyntaxError as exc:
        raise DjstackError(f"{path}:{exc.lineno}: not valid Python: {exc.msg}",
                           "Fix the migration file (run `python -m py_compile` on it).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DjstackError(f"{path}: cannot read the migration file: {exc}", "Check the path.") from None
    klass = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"), None)
    if klass is None:
        if required:
            raise DjstackError(f"{path}: no `class Migration` in it, so it is not a Django migration",
                               "Pass the files in an app's migrations/ folder.")
        return None
    dependencies, operations = [], []
    app = path.parent.parent.name
    for statement in klass.body:
        if not isinstance(statement, ast.Assign) or not isinstance(statement.targets[0], ast.Name):
            continue
        target = statement.targets[0].id
        if target == "dependencies":
            for dep in getattr(statement.value, "elts", []):
                pair = _literal(dep)
                if isinstance(pair, tuple) and len(pair) == 2 and pair[0] == app:
                    dependencies.append(pair[1])
        elif target == "operations":
            operations = list(_calls(statement.value))
    return _MigrationFile(path, path.stem, dependencies, operations)


def _in_order(files: dict[str, _MigrationFile]) -> list[_MigrationFile]:
    """The app's migrations in dependency order, ties by name (what makemigrations' numbering gives)."""
    ordered, done = [], set()

    def visit(name, trail=()):
        if name in done or name not in files or name in trail:
            return
        for dep in sorted(files[name].dependencies):
            visit(dep, (*trail, name))
        done.add(name)
        ordered.append(files[name])

    for name in sorted(files):
        visit(name)
    return ordered


def read_migration_files(paths: list[Path | str]) -> dict:
    """The plan of the given migration files, read with `ast`, in the script's JSON shape.

    Each file's app is the folder above its migrations/ folder; the app's other migration files build
    the state before (a field's old definition) and the schema the running release knows (every file of
    the app before the first one given). Nothing is imported.
    """
    by_app: dict[Path, list[Path]] = {}
    for path in map(Path, paths):
        by_app.setdefault(path.parent, []).append(path)
    plan, tables, retired = [], {}, []
    for folder, wanted in by_app.items():
        app = folder.parent.name
        wanted_names = {p.stem for p in wanted}
        files = {p.stem: f for p in wanted if (f := _read(p, required=True))}
        for sibling in folder.glob("*.py"):
            if sibling.stem not in files and sibling.name != "__init__.py":
                if (f := _read(sibling, required=False)) is not None:
                    files[sibling.stem] = f
        state, schema = _StaticState(app), None
        for migration in _in_order(files):
            if migration.name in wanted_names and schema is None:
                schema = state.schema()
            operations = [state.describe(call, migration.path) for call in migration.operations]
            if migration.name in wanted_names:
                plan.append({"app": app, "name": migration.name, "file": str(migration.path), "operations": operations})
        schema = schema or state.schema()
        tables.update(schema["tables"])
        retired += schema["retired_tables"]
    return {"schema": {"complete": False, "tables": tables, "retired_tables": retired}, "plan": plan}


def breaking_in_files(paths: list[Path | str]) -> list[Breaking]:
    """`breaking` for migration files read statically (no Django, no database)."""
    return breaking(read_migration_files(paths))


def report(found: list[Breaking]) -> str:
    """The warning deploy prints before it migrates."""
    lines = [f"{len(found)} pending migration operation(s) the running release cannot survive:"]
    for b in found:
        lines.append(f"  {b.app}.{b.migration}: {b.operation}" + (f"  ({b.location})" if b.location else ""))
        lines.append(f"      why: {b.why}")
        lines.append(f"      fix: {b.fix}")
    return "\n".join(lines)
