"""Replay (issue 14): any service's read model rebuilt from its input topics, from offset zero,
into a fresh database, equals the live one.

First a small campaign: four schools submit, a district returns one and the school corrects it,
the districts and the region consolidate, sign and submit up, and, where others are expected
beside the campaign, a deadline passes (the sweep's missing, late flags). Then every service with
a read model is replayed (`uise-stack replay`) and compared with live, table by table
(uise_common.readmodel: what each service builds from its topics, docs/operations.md).

On the session's stack (SQLite; after whatever the other tests left there, replayed too), into a
fresh SQLite file; and on a stack of its own on PostgreSQL, into a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from uise_common.clock import clear_control
from uise_common.db import database_url
from uise_common.testing import scratch_postgres
from uise_stack import cli
from uise_stack.campaign import MINISTRY, Campaign, campaign_form, school_figures, small_hierarchy
from uise_stack.client import another_stack, bearer, token_for
from uise_stack.config import StackConfig
from uise_stack.replay import replay, settings_of, wait_quiet
from uise_stack.stack import Stack

# a stack of its own to start and a campaign to run before the first test: more than the default
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
REPLAYED = ("routing", "deadline", "reporting", "intake", "signature", "validation", "identity")
YEAR = 2035  # no other test's year
FORM = "RPY-1"


def rehearse(stack: Stack) -> Campaign:
    c = Campaign(stack.config, stack.prepare_pki(), small_hierarchy(regions=1, districts=2, schools=4, series=53),
                 form=campaign_form(FORM), year=YEAR, log=lambda _line: None, workers=4)
    c.seed()
    c.clock(c.opening())
    try:
        schools = [u.participant_id for u in c.hierarchy.at("organization")]
        for n, school in enumerate(schools):
            assert c.submit_school(school, school_figures(n))["status"] == "accepted"
        returned, district = schools[0], c.hierarchy.units[schools[0]].parent_id
        resp = httpx.post(f"{c.url('routing')}/v1/inboxes/{district}/submissions/{c.submissions[returned]}/return",
                          json={"comment": "classes: count again"}, headers=bearer(token_for(district)), timeout=30)
        assert resp.status_code in (200, 202), resp.text
        c.wait(lambda: _status(c, returned) == "returned", "the return in the school's timeline")
        assert c.submit_school(returned, {**school_figures(0), "classes": 15, "avg_class_size": "23.67"})["status"] \
            == "accepted"
        below = "organization"
        for level in ("district", "region"):
            nodes = [u.participant_id for u in c.hierarchy.at(level)]
            if any(c.waits_for_outsiders(node) for node in nodes):
                c.close_collection(below)
            for node in nodes:
                assert c.consolidate(node)["submission"]["status"] == "accepted"
            below = level
        if c.waits_for_outsiders(MINISTRY):
            c.close_collection(below)
        c.national()
    finally:
        clear_control(stack.config.clock_file)
    return c


def _status(c: Campaign, school: str) -> str:
    return httpx.get(f"{c.url('intake')}/v1/submissions/{c.submissions[school]}",
                     headers=bearer(token_for(school)), timeout=30).json()["status"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request, tmp_path_factory) -> Iterator[Stack]:
    if request.param == "sqlite":
        stack = request.getfixturevalue("stack")
        rehearse(stack)
        wait_quiet(stack.config)
        yield stack
        return
    with scratch_postgres("uise_replay_live") as url, another_stack():
        stack = Stack(StackConfig.ephemeral(tmp_path_factory.mktemp("replay"), database_url=url, redis_url=None))
        stack.start()
        try:
            rehearse(stack)
            wait_quiet(stack.config)
            yield stack
        finally:
            stack.stop()


@pytest.mark.parametrize("service", REPLAYED)
def test_a_read_model_rebuilt_from_its_topics_equals_the_live_one(live, service):
    lines: list[str] = []
    on_postgres = live.config.database_url is not None
    if on_postgres:
        with scratch_postgres("uise_replay_into") as into:
            result, comparison = replay(live.config, service, into, out=lines.append)
    else:
        result, comparison = replay(live.config, service, out=lines.append)
    shown = "\n".join(lines)
    assert comparison.equal, shown
    assert sum(c.applied for c in result.counts.values()) > 0, shown
    assert all(t.live > 0 for t in comparison.tables[:1]), shown  # the participants, at least, are there
    if on_postgres:  # the campaign's alone: nothing the live service could not apply
        assert not any(c.given_up or c.malformed for c in result.counts.values()), shown


def test_the_command_line_replays_into_a_fresh_database_and_says_equal(live, capsys):
    base = str(live.config.base_dir)
    assert cli.main(["--base-dir", base, "replay", "routing"]) == 0
    out = capsys.readouterr().out
    assert "routing_inbox" in out and out.rstrip().endswith("EQUAL"), out
    assert cli.main(["--base-dir", base, "replay", "registry"]) == 2  # the source of truth: nothing to replay
    assert "consumes no topic" in capsys.readouterr().out
    itself = database_url(settings_of(live.config, "routing"), "routing")
    assert cli.main(["--base-dir", base, "replay", "routing", "--into", itself]) == 2
    assert "the live database" in capsys.readouterr().out
