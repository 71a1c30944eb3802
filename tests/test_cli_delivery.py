"""``ball-fhir status`` and ``replay`` on a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.cli.delivery import item_mapper
from adapter.intake import ingest
from adapter.store import NewItem, open_store
from tests.intake.messages import oru


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    mapper = item_mapper("hl7v2", "default")
    for n in range(3):
        ingest(store, "hl7v2", "default", f"m{n}", oru(n, "P1"), mapper)
    store.dead(1, "HTTP 422: the server said no")
    store.close()
    return url


def test_status_text_and_json(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--store", store_url]) == 0
    out = capsys.readouterr().out
    assert "pending    2" in out
    assert "dead       1" in out
    assert "dead #1 hl7v2 m0: HTTP 422: the server said no" in out
    assert main(["status", "--store", store_url, "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["counts"]["dead"] == 1
    assert body["oldestPendingSeconds"] >= 0


def test_replay_dead_and_by_id(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--dead", "--store", store_url]) == 0
    assert "1 dead letters back to pending" in capsys.readouterr().out
    store = open_store(store_url)
    try:
        assert store.status().counts["pending"] == 3
        item_id, _ = store.add(
            NewItem("hl7v2", "default", "late", oru(9, "P9"), "x" * 64, store.info(1).received)
        )
    finally:
        store.close()
    assert main(["replay", str(item_id), "--store", store_url]) == 0  # never mapped: mapped now
    assert capsys.readouterr().out == f"#{item_id}: pending\n"
    assert main(["replay", "999", "--store", store_url]) == 2
    assert "no item 999" in capsys.readouterr().err
    assert main(["replay", "--store", store_url]) == 2
