"""The fault corpus, replayed without Docker: for every fault of tests/fault_corpus.py, `djstack doctor
--replay` on the evidence recorded from a real stack that had it names the expected cause first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fault_corpus import FAULT_DATA, FAULTS, assert_diagnosed
from helpers import copy_example
from djstack.cli import main
from djstack.initialise import run_init
from djstack.model import StackOptions

RECORDED = sorted(path.stem for path in FAULT_DATA.glob("*.json"))
E2E = Path(__file__).resolve().parent / "e2e"


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory):
    """A stack `djstack init` wrote: what --replay needs besides the evidence (names, files). The
    recordings come from stacks without background work (tests/e2e/test_doctor_workers.py has its
    faults): without it, so that no worker or broker is missing from them."""
    root = copy_example(tmp_path_factory.mktemp("corpus") / "mysite")
    run_init(root, StackOptions(workers=False), force=False)
    return root


def test_every_fault_is_recorded_and_every_recording_is_a_fault():
    assert sorted(FAULTS) == RECORDED


def test_the_e2e_tests_inject_each_live_fault_once_and_record_the_others():
    injected = re.findall(r'diagnosed\(\w+, "([\w-]+)"\)', (E2E / "test_doctor.py").read_text(encoding="utf-8"))
    assert sorted(injected) == sorted(name for name, fault in FAULTS.items() if fault.live)
    by_hand = (E2E / "record_faults.py").read_text(encoding="utf-8")
    assert [name for name, fault in FAULTS.items() if not fault.live and f'"{name}"' not in by_hand] == []


def test_the_corpus_is_large_and_mostly_live():
    assert len(FAULTS) >= 44
    assert sum(fault.live for fault in FAULTS.values()) >= 22


def test_the_recordings_stay_small():
    assert sum(path.stat().st_size for path in FAULT_DATA.iterdir()) <= 2 * 2**20


@pytest.mark.parametrize("name", RECORDED)
def test_replayed_fault_is_diagnosed(stack_dir, name):
    result = CliRunner().invoke(main, ["doctor", str(stack_dir), "--replay", str(FAULT_DATA / f"{name}.json"),
                                       "--json"])
    assert result.exit_code in (0, 1), result.output
    assert_diagnosed(name, json.loads(result.stdout))
