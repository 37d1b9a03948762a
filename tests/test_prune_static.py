"""compose/web/prune_static.py, the generated script deploy runs in web: the choice, and the run."""

from __future__ import annotations

import io
import json
import runpy
from pathlib import Path

import pytest

from djstack import render
from test_render import golden_stack


def load_script(example_copy: Path) -> dict:
    outputs = {o.path: o.content for o in render.render(golden_stack(example_copy, "official"))}
    script = example_copy / "prune_static.py"
    script.write_text(outputs["compose/web/prune_static.py"])
    return runpy.run_path(str(script))



OLD = {"paths": {"app/site.css": "app/site.0123456789ab.css", "app/logo.svg": "app/logo.aaaaaaaaaaaa.svg"}}
NEW = {"paths": {"app/site.css": "app/site.fedcba987654.css", "app/logo.svg": "app/logo.aaaaaaaaaaaa.svg"}}
OLDER_ONLY = ["app/site.111111111111.css", "app/site.111111111111.css.gz", "app/site.111111111111.css.br"]
VOLUME = [
    "staticfiles.json", "staticfiles.json.gz",
    "app/site.css", "app/site.css.gz", "app/logo.svg",
    "app/site.0123456789ab.css", "app/site.0123456789ab.css.gz",
    "app/site.fedcba987654.css", "app/site.fedcba987654.css.gz",
    "app/logo.aaaaaaaaaaaa.svg",
    *OLDER_ONLY,
    "app/.site.222222222222.css.publishing",  # publish_static.py's staging file: never touched
    "js/chunk.333333333333.js",  # a bundler's own hashed name (no plain file beside it): not Django's
    "CACHE/css/output.444444444444.css",  # django-compressor's offline output: not Django's either
    "README.555555555555",  # no extension: hashed all the same, plain file beside it
    "README",
    "fonts/a.tar.666666666666.gz", "fonts/a.tar.gz",  # a .gz that is itself the hashed file
]


@pytest.fixture
def script(example_copy):
    return load_script(example_copy)


def test_prunes_only_hashed_copies_no_kept_release_names(script):
    doomed = script["prunable"]([OLD, NEW], VOLUME)
    assert doomed == sorted([*OLDER_ONLY, "README.555555555555", "fonts/a.tar.666666666666.gz"])


def test_keeping_one_release_prunes_the_others_hashed_files(script):
    doomed = script["prunable"]([NEW], VOLUME)
    assert "app/site.0123456789ab.css" in doomed and "app/site.0123456789ab.css.gz" in doomed
    assert "app/site.fedcba987654.css" not in doomed and "app/logo.aaaaaaaaaaaa.svg" not in doomed


def test_never_a_plain_file_nor_the_manifest(script):
    doomed = set(script["prunable"]([], VOLUME))
    plain = {"staticfiles.json", "staticfiles.json.gz", "app/site.css", "app/site.css.gz", "app/logo.svg",
             "README", "fonts/a.tar.gz", "js/chunk.333333333333.js", "CACHE/css/output.444444444444.css",
             "app/.site.222222222222.css.publishing"}
    assert doomed and not doomed & plain


def test_a_compressed_copy_goes_even_when_its_file_is_gone(script):
    assert script["prunable"]([NEW], ["a.css", "a.0123456789ab.css.gz"]) == ["a.0123456789ab.css.gz"]


def test_a_name_a_kept_release_has_as_original_stays(script):
    # A bundler's hashed chunk collected by Django is an original in the manifest: never pruned.
    kept = {"paths": {"js/app.0123456789ab.js": "js/app.0123456789ab.fedcba987654.js"}}
    files = ["js/app.js", "js/app.0123456789ab.js", "js/app.0123456789ab.fedcba987654.js"]
    assert script["prunable"]([kept], files) == []


def run_main(script, monkeypatch, volume: Path, build: Path, stdin: str, *argv: str) -> dict:
    monkeypatch.setitem(script["main"].__globals__, "TARGET", str(volume))
    monkeypatch.setitem(script["main"].__globals__, "SOURCE", str(build))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    script["main"](list(argv))
    return json.loads(out.getvalue())


def test_the_script_deletes_and_keeps_this_images_manifest(script, monkeypatch, tmp_path):
    volume, build = tmp_path / "volume", tmp_path / "build"
    for path in VOLUME:
        (volume / path).parent.mkdir(parents=True, exist_ok=True)
        (volume / path).write_text(path)
    build.mkdir()
    (build / "staticfiles.json").write_text(json.dumps(NEW))  # the running release, not in stdin

    dry = run_main(script, monkeypatch, volume, build, json.dumps([OLD]), "--dry-run")
    assert dry["dry_run"] and (volume / OLDER_ONLY[0]).exists()
    result = run_main(script, monkeypatch, volume, build, json.dumps([OLD]))
    assert result["deleted"] == dry["deleted"] and result["manifests"] == 2
    left = sorted(p.relative_to(volume).as_posix() for p in volume.rglob("*") if p.is_file())
    assert left == sorted(set(VOLUME) - set(result["deleted"]))
    assert "app/site.fedcba987654.css" in left and "app/site.0123456789ab.css" in left
    assert not any((volume / p).exists() for p in OLDER_ONLY)


@pytest.mark.parametrize("stdin", ["not json", '[{"no": "paths"}]', "[]"])
def test_bad_input_deletes_nothing(script, monkeypatch, tmp_path, stdin):
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "a.css").write_text("a")
    (volume / "a.0123456789ab.css").write_text("a")
    with pytest.raises(SystemExit, match="nothing was deleted"):
        run_main(script, monkeypatch, volume, tmp_path / "no-build", stdin)
    assert (volume / "a.0123456789ab.css").exists()
