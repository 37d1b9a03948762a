"""compose/web/publish_static.py, the generated script web runs at start: run for real on folders."""

from __future__ import annotations

import runpy
from pathlib import Path

from djstack import render
from test_render import golden_stack


def load_publish(example_copy: Path):
    """The rendered script's publish() function."""
    outputs = {o.path: o.content for o in render.render(golden_stack(example_copy, "official"))}
    script = example_copy / "publish_static.py"
    script.write_text(outputs["compose/web/publish_static.py"])
    return runpy.run_path(str(script))["publish"]


def test_publish_renames_changed_files_into_place_and_leaves_the_rest(example_copy, tmp_path):
    publish = load_publish(example_copy)
    build, volume = tmp_path / "build", tmp_path / "volume"
    (build / "css").mkdir(parents=True)
    (build / "css" / "site.css").write_text("body { color: red }")
    (build / "app.js").write_text("one")

    assert publish(str(build), str(volume)) == 2
    assert (volume / "css" / "site.css").read_text() == "body { color: red }"
    kept, replaced = (volume / "app.js").stat().st_ino, (volume / "css" / "site.css").stat().st_ino

    (build / "css" / "site.css").write_text("body { color: blue }")
    (volume / "old-release.css").write_text("still linked from cached pages")
    assert publish(str(build), str(volume)) == 1
    # A changed file is a new inode (renamed over the old), so nginx's open fd still reads the old
    # whole file; an unchanged one is untouched; files of older releases stay; no staging file left.
    assert (volume / "css" / "site.css").read_text() == "body { color: blue }"
    assert (volume / "css" / "site.css").stat().st_ino != replaced
    assert (volume / "app.js").stat().st_ino == kept
    assert (volume / "old-release.css").exists()
    assert sorted(p.name for p in volume.rglob("*")) == ["app.js", "css", "old-release.css", "site.css"]
    assert publish(str(build), str(volume)) == 0


def test_hashed_files_of_older_releases_stay_and_the_manifest_is_the_new_one(example_copy, tmp_path):
    publish = load_publish(example_copy)
    volume = tmp_path / "volume"
    releases = {
        "one": {"css/site.css": "red", "css/site.0123456789ab.css": "red", "staticfiles.json": '{"one": 1}'},
        "two": {"css/site.css": "blue", "css/site.fedcba987654.css": "blue", "staticfiles.json": '{"two": 2}'},
    }
    for name, files in releases.items():
        for path, text in files.items():
            (tmp_path / name / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / path).write_text(text)
        publish(str(tmp_path / name), str(volume))
    # A page the first release rendered still finds its stylesheet after the second one published.
    assert (volume / "css" / "site.0123456789ab.css").read_text() == "red"
    assert (volume / "css" / "site.fedcba987654.css").read_text() == "blue"
    assert (volume / "css" / "site.css").read_text() == "blue"
    assert (volume / "staticfiles.json").read_text() == '{"two": 2}'
