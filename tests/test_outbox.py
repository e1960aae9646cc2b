"""The durable outbox on its own: order per source, leases, restarts, bounds, counted drops."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from streamcls.errors import SinkError
from streamcls.outputs.outbox import Outbox

DEST = "http://receiver/hook"


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_one_head_per_source_in_order_and_a_source_waits_only_for_itself(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as outbox:
        for number in range(3):
            outbox.add(DEST, "a", f"a{number}", f"a{number}".encode())
            outbox.add(DEST, "b", f"b{number}", f"b{number}".encode())
        outbox.add("http://other/", "a", "x0", b"x0")
        heads = outbox.claim_due(DEST)
        assert [m.event_id for m in heads] == ["a0", "b0"]
        assert outbox.claim_due(DEST) == []  # claimed: no second sender gets them
        # a0 fails and waits for its retry; b goes on without it, a1 stays behind a0.
        outbox.failed(heads[0].id, retry_at=outbox.clock() + 60, error="HTTP 500")
        outbox.delivered(heads[1].id)
        assert [m.event_id for m in outbox.claim_due(DEST)] == ["b1"]
        assert [m.event_id for m in outbox.next_due(DEST)] == ["a0", "b1"]
        assert outbox.next_due(DEST)[0].attempts == 1
        assert outbox.pending(DEST) == 5 and outbox.pending("http://other/") == 1
        outbox.retry_now(DEST)
        outbox.release(outbox.next_due(DEST)[1].id)
        assert [m.event_id for m in outbox.claim_due(DEST)] == ["a0", "b1"]


def test_what_was_added_survives_a_restart_in_order(tmp_path):
    path = tmp_path / "o.sqlite"
    outbox = Outbox(path)
    for number in range(4):
        outbox.add(DEST, "cam", f"e{number}", b"{}")
    outbox.delivered(outbox.claim_due(DEST)[0].id)
    # No close: a killed process. Another connection (the next run) sees every committed message.
    with Outbox(path) as again:
        order = []
        while True:
            due = again.claim_due(DEST)
            if not due:
                break
            order.append(due[0].event_id)
            again.delivered(due[0].id)
        assert order == ["e1", "e2", "e3"]
    outbox.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_max_messages_drops_the_oldest_and_counts_them_across_restarts(tmp_path, caplog):
    path = tmp_path / "o.sqlite"
    with Outbox(path, max_messages=3) as outbox:
        for number in range(6):
            outbox.add(DEST, "cam", f"e{number}", b"{}")
        assert [m.event_id for m in outbox.next_due(DEST)] == ["e3"]
        assert outbox.pending(DEST) == 3
        assert outbox.dropped_now == {"full": 3} and outbox.drops(DEST) == {"full": 3}
    assert "dropped 1 event(s)" in caplog.text and "max_messages 3" in caplog.text
    with Outbox(path, max_messages=3) as outbox:
        outbox.add(DEST, "cam", "e6", b"{}")
        assert outbox.dropped_now == {"full": 1} and outbox.drops(DEST) == {"full": 4}


def test_max_age_drops_old_messages_and_counts_them(tmp_path):
    clock = Clock()
    with Outbox(tmp_path / "o.sqlite", max_age_s=10, clock=clock) as outbox:
        outbox.add(DEST, "cam", "old", b"{}")
        clock.now += 11
        outbox.add(DEST, "cam", "new", b"{}")
        assert [m.event_id for m in outbox.claim_due(DEST)] == ["new"]
        assert outbox.drops(DEST) == {"expired": 1}
        clock.now += 11
        assert outbox.claim_due(DEST) == [] and outbox.drops(DEST) == {"expired": 2}


def test_refused_and_exhausted_messages_are_counted(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as outbox:
        first = outbox.add(DEST, "cam", "e0", b"{}")
        second = outbox.add(DEST, "cam", "e1", b"{}")
        outbox.drop(first, "rejected")
        outbox.drop(second, "attempts")
        outbox.drop(second, "attempts")  # already gone: not counted twice
        assert outbox.drops(DEST) == {"attempts": 1, "rejected": 1} and outbox.pending(DEST) == 0


def test_a_writer_and_a_sender_thread_lose_and_repeat_nothing(tmp_path):
    received = []
    with Outbox(tmp_path / "o.sqlite") as outbox:
        done = threading.Event()

        def send():
            while not (done.is_set() and outbox.pending(DEST) == 0):
                for message in outbox.claim_due(DEST):
                    received.append(message.event_id)
                    outbox.delivered(message.id)

        sender = threading.Thread(target=send)
        sender.start()
        for number in range(200):
            outbox.add(DEST, f"s{number % 3}", f"s{number % 3}-{number}", b"{}")
        done.set()
        sender.join(20)
        assert not sender.is_alive()
    assert sorted(received) == sorted(f"s{n % 3}-{n}" for n in range(200))
    for source in ("s0", "s1", "s2"):
        mine = [int(e.split("-")[1]) for e in received if e.startswith(source + "-")]
        assert mine == sorted(mine)


def test_an_outbox_that_cannot_be_created_is_a_sink_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="cannot be opened"):
        Outbox(blocker / "o.sqlite")
