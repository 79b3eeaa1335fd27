"""What counts in an input's identity: folders hashed through symbolic links, dangling links tolerated."""

from __future__ import annotations

from pathlib import Path

import consist
from consist import use_tracker


def test_input_folder_follows_symlinked_subfolders_and_tolerates_dangling_links(tracker, tmp_path):
    """A change inside a folder linked into an input folder is a miss; a dangling link is not an error."""
    calls: list[int] = []
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "zones.csv").write_text("zone\n1\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "own.csv").write_text("x\n1\n")
    (data / "shared").symlink_to(shared)
    (data / "loop").symlink_to(data)  # a link back up must not hang the walk
    (data / "gone.csv").symlink_to(tmp_path / "deleted.csv")

    def step(folder: Path) -> dict:
        calls.append(1)
        return {"files": len(list(folder.iterdir()))}

    with use_tracker(tracker):
        consist.run(fn=step, inputs={"folder": data}, outputs=["n"])
        assert consist.run(fn=step, inputs={"folder": data}, outputs=["n"]).cache_hit
        (shared / "zones.csv").write_text("zone\n2\n")
        assert not consist.run(fn=step, inputs={"folder": data}, outputs=["n"]).cache_hit
    assert len(calls) == 2
