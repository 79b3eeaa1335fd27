"""The record journal: one line a record, the newest line of a run replaceable, sealed once its writer is gone."""

from __future__ import annotations

import os
import sys

import pytest

from consist.catalog.codec import encode_run
from consist.catalog.journal import JournalWriter
from consist.catalog.journal_index import JournalIndex, is_journal, read_journal, sealed, split_lines
from tests.helpers.records import make_run


def journals(folder) -> list:
    return sorted(folder / n for n in os.listdir(folder) if is_journal(n))


def test_each_record_is_one_line_and_a_replacing_record_takes_the_newest_line_s_place(tmp_path):
    writer = JournalWriter(tmp_path, max_records=100)
    for i in range(3):
        writer.append(encode_run(make_run(i)), f"run-{i}")
    writer.append(encode_run(make_run(2, status="failed")), "run-2")
    (path,) = journals(tmp_path)
    assert path.read_bytes().count(b"\n") == 3
    records = read_journal(path).records
    assert list(records) == ["run-0", "run-1", "run-2"] and b'"failed"' in records["run-2"][1]
    assert writer.drop("run-2") and not writer.drop("run-1")  # only the newest line can go
    assert list(read_journal(path).records) == ["run-0", "run-1"]


def test_a_writer_moves_to_a_new_journal_every_max_records_and_seals_the_old(tmp_path):
    writer = JournalWriter(tmp_path, max_records=2)
    for i in range(5):
        writer.append(encode_run(make_run(i)), f"run-{i}")
    files = journals(tmp_path)
    assert sorted(len(read_journal(p).records) for p in files) == [1, 2, 2]
    live = tmp_path / os.path.basename(writer.path)
    assert [sealed(p) for p in files] == [p != live for p in files]
    writer.seal()
    assert all(sealed(p) for p in files)


def test_only_complete_lines_count_and_the_index_reads_only_what_was_appended(tmp_path):
    assert split_lines(b'{"a":1}\n{"b"', 10) == ([(10, b'{"a":1}')], 18)
    writer = JournalWriter(tmp_path, max_records=100)
    index = JournalIndex(tmp_path)
    writer.append(encode_run(make_run(0)), "run-0")
    assert index.refresh() == (["run-0"], [])
    with open(writer.path, "ab") as fh:
        fh.write(encode_run(make_run(1))[:30])  # torn: not a record yet
    assert index.refresh() == ([], []) and index.find("run-1") is None
    with open(writer.path, "ab") as fh:
        fh.write(encode_run(make_run(1))[30:] + b"\n")
    assert index.refresh() == (["run-1"], []) and index.find("run-1") == encode_run(make_run(1))
    os.unlink(writer.path)
    assert index.refresh() == ([], ["run-0", "run-1"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_appends_to_a_journal_of_its_own(tmp_path):
    writer = JournalWriter(tmp_path, max_records=100)
    writer.append(encode_run(make_run(0)), "run-0")
    pid = os.fork()
    if pid == 0:  # the child: never the parent's file, whose torn tail would become damage in its middle
        code = 0
        try:
            writer.append(encode_run(make_run(1)), "run-1")
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    writer.append(encode_run(make_run(2)), "run-2")
    by_file = sorted(list(read_journal(p).records) for p in journals(tmp_path))
    assert by_file == [["run-0", "run-2"], ["run-1"]]
    assert sys.platform == "win32" or sealed(tmp_path / os.path.basename(writer.path)) is False


def test_a_reader_that_read_a_line_later_replaced_reads_the_replacement(tmp_path):
    """Another reader's incremental position never lands inside a replaced line, even one of the same length."""
    writer = JournalWriter(tmp_path, max_records=100)
    index = JournalIndex(tmp_path)
    writer.append(encode_run(make_run(0)), "run-0")
    completed = encode_run(make_run(1, status="completed"))
    writer.append(completed, "run-1")
    index.refresh()
    same_length = completed.replace(b'"completed"', b'"failed"   ')  # a JSON string of the same length
    assert len(same_length) == len(completed) and writer.append(same_length, "run-1")
    index.refresh()
    assert index.find("run-1").rstrip() == same_length and index.files[os.path.basename(writer.path)].damaged == []
    writer.append(encode_run(make_run(1, status="failed")), "run-1")  # shorter than the line before
    writer.append(encode_run(make_run(2)), "run-2")
    index.refresh()
    assert b'"failed"' in index.find("run-1") and index.find("run-2") == encode_run(make_run(2))
    assert index.files[os.path.basename(writer.path)].damaged == []


def test_a_hole_in_a_live_journal_is_read_again_and_damage_is_final_only_once_sealed(tmp_path):
    """Appends from another machine may land out of order: a live journal's bad line is waited on, a sealed one's skipped."""
    writer = JournalWriter(tmp_path, max_records=100)
    writer.append(encode_run(make_run(0)), "run-0")
    line1, line2 = encode_run(make_run(1)), encode_run(make_run(2))
    with open(writer.path, "ab") as fh:  # run-1's bytes not there yet, run-2's already
        fh.write(b"\0" * len(line1) + b"\n" + line2 + b"\n")
    index = JournalIndex(tmp_path)
    index.refresh()
    assert index.find("run-2") is None and len(list(index.damage())) == 1  # stopped before the hole
    with open(writer.path, "r+b") as fh:
        fh.seek(len(encode_run(make_run(0))) + 1)
        fh.write(line1)  # the hole fills in
    index.refresh()
    assert index.find("run-1") == line1 and index.find("run-2") == line2 and list(index.damage()) == []
    with open(writer.path, "ab") as fh:
        fh.write(b"\0" * 40 + b"\n" + encode_run(make_run(3)) + b"\n")
    index.refresh()
    assert index.find("run-3") is None
    writer.seal()  # the writer is gone: the damage is final
    index.refresh()
    assert index.find("run-3") == encode_run(make_run(3)) and len(list(index.damage())) == 1
