"""The rule table (check/registry.py): every rule is documented and planted, docs/rules.md is the
table's, and `djstack check --explain ID` prints an entry or names the close ids."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from helpers import REPO
from djstack.check import RULES
from djstack.check.docs import reference
from djstack.check.registry import CATEGORIES, MODELS, Doc, Rule, UnknownRule, add, explain, selected
from djstack.cli import main
from djstack.model import MIN_SECRET_LENGTH
from test_check import CATALOGUE


def test_every_rule_has_its_documentation():
    for rule in RULES.values():
        assert rule.category in CATEGORIES, rule.id
        assert rule.reads and set(rule.reads) <= set(MODELS), rule.id
        for name, text in rule.doc.fields().items():
            assert text.strip(), f"{rule.id} has no {name}"
        assert rule.doc.breaks != rule.doc.finds, rule.id


def test_a_rule_without_its_documentation_is_refused():
    with pytest.raises(ValueError, match="no breaks, example"):
        Doc.parse("""Finds: something.

        Fix: do this.
        """)


def test_documented_secret_length_is_the_models():
    assert f"{MIN_SECRET_LENGTH} characters" in RULES["env-secret-short"].doc.finds


def test_every_rule_has_a_planted_defect_in_the_catalogue():
    assert set(RULES) - {p.id for p in CATALOGUE} == set()


def test_committed_reference_is_the_generators_output():
    """Regenerate with `python -m djstack.check.docs > docs/rules.md`."""
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == reference()


def test_reference_lists_every_rule_once():
    text = reference()
    for rule_id in RULES:
        assert text.count(f"\n### {rule_id}\n") == 1, rule_id


def test_selection_is_by_category():
    picked = selected(categories=["redis"])
    assert picked and {r.category for r in picked} == {"redis"}
    assert "redis-port-published" in {r.id for r in picked}
    assert len(selected()) == len(RULES)


def test_unparseable_rules_are_one_family():
    family = {i for i in RULES if i.endswith("-unparseable")}
    assert family == {f"{k}-unparseable" for k in ("compose", "env", "nginx", "settings", "mysql", "redis")}
    assert len({RULES[i].func.__code__ for i in family}) == 1


def test_registering_an_id_twice_or_an_unknown_model_is_refused():
    existing = next(iter(RULES.values()))
    with pytest.raises(ValueError, match="twice"):
        add(existing)
    doc = Doc("a", "b", "c", "d")
    with pytest.raises(ValueError, match="unknown"):
        add(Rule("test-only-rule", "error", "nginx", ("not-a-model",), doc, lambda ctx: []))
    assert "test-only-rule" not in RULES


def test_explain_unknown_names_close_matches():
    with pytest.raises(UnknownRule) as caught:
        explain("nginx-upstream-port")
    assert caught.value.rule_id == "nginx-upstream-port"
    assert caught.value.close[0] == "nginx-upstream-port-mismatch"


def test_cli_explain_prints_the_entry():
    result = CliRunner().invoke(main, ["check", "--explain", "uwsgi-daemonize"])
    assert result.exit_code == 0, result.output
    doc = RULES["uwsgi-daemonize"].doc
    assert result.stdout.startswith("uwsgi-daemonize (error; category uwsgi; reads uwsgi)")
    assert doc.example in result.stdout and "fix:" in result.stdout


def test_cli_explain_unknown_id_fails_with_close_matches():
    result = CliRunner().invoke(main, ["check", "--explain", "uwsgi-daemonise"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "No check rule has the id 'uwsgi-daemonise'" in output and "uwsgi-daemonize" in output

