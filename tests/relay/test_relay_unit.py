"""Relay units: config, routing, templates, messages, the queue, and the HTTP answers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dingnotify import encode_msg, message_from_dict
from dingnotify.relay import RelayConfigError, Template, TemplateError, load_config
from dingnotify.relay._alertmanager import default_markdown, items_for
from dingnotify.relay._bell import Bell
from dingnotify.relay._digest import Pacer, digest, pack
from dingnotify.relay._http import RelayApp
from dingnotify.relay._messages import split_markdown
from dingnotify.relay._metrics import Metrics
from dingnotify.relay._queue import Item, Queue, QueueFullError

from .conftest import AUTH, CONFIG, TOKEN, alert, payload, write_config

ITEM = Item("work_notice", None, {"userids": ["u1"]},
            [{"msgtype": "text", "text": {"content": "hi"}}])


# -- templates ---------------------------------------------------------------------------

def test_template_reads_keys_indexes_loops_and_conditions() -> None:
    t = Template('{{ a.b }}/{{ l.1 }}{% for k, v in d %} {{k}}={{v}}{% endfor %}'
                 '{% if s == "x" %} X{% else %} Y{% endif %}{% if not missing %}!{% endif %}')
    assert t.render({"a": {"b": 1}, "l": ["p", "q"], "d": {"z": 2, "y": 3}, "s": "x"}) \
        == "1/q y=3 z=2 X!"


@pytest.mark.parametrize("source", [
    "{{ a.__class__ }}x{{ a.__init__.__globals__ }}", "{{ a.upper }}", "{{ a.__len__ }}"])
def test_template_never_reaches_python_attributes(source: str) -> None:
    assert Template(source).render({"a": "text"}) in ("x", "")


@pytest.mark.parametrize("source", ["{{ a() }}", "{{ a[0] }}", "{% for x in %}", "{% if a %}",
                                    "{% import os %}", "{{ a + 1 }}", "{% endfor %}"])
def test_template_refuses_anything_but_data_paths(source: str) -> None:
    with pytest.raises(TemplateError):
        Template(source)


def test_template_output_is_bounded() -> None:
    with pytest.raises(TemplateError, match="over"):
        Template("{% for x in l %}{% for y in l %}{{ s }}{% endfor %}{% endfor %}").render(
            {"l": list(range(1000)), "s": "x" * 100})


def test_dicts_and_lists_render_as_nothing_not_a_repr() -> None:
    assert Template("[{{ d }}][{{ l }}]").render({"d": {"k": "v"}, "l": [1]}) == "[][]"


# -- config and routing --------------------------------------------------------------------

def test_config_routes_first_match_with_label_equality(tmp_path: Path, relay_env: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_HOOK_URL", "https://oapi.dingtalk.com/robot/send?access_token=x")
    monkeypatch.setenv("OPS_HOOK_SECRET", "SECxyz")
    config = load_config(write_config(tmp_path))
    assert config.first_match({"team": "db", "severity": "critical"}).name == "db-oncall"
    assert config.first_match({"team": "db", "severity": "warning"}).name == "everyone-else"
    assert config.first_match({"team": "ops"}).name == "ops-group"
    assert "SECxyz" not in repr(config) and "access_token" not in repr(config)
    assert TOKEN not in repr(config)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: '[relay]\nqueue = "q.sqlite"\n', "token_env is required"),
    (lambda c: c.replace('"RELAY_TOKEN"', '"RELAY_UNSET_X"'), "RELAY_UNSET_X is not set"),
    (lambda c: c + '[[route]]\nname = "db-oncall"\nwork_notice = {userids=["a"]}\n', "unique"),
    (lambda c: c + '[[route]]\nname = "x"\n', "exactly one of"),
    (lambda c: c + '[[route]]\nname = "x"\nwork_notice = {}\n', "no recipients"),
    (lambda c: c + '[[route]]\nname = "x"\ntemplate = "nope.md"\nrobot = {userids=["a"]}\n',
     "cannot read nope.md"),
    (lambda c: c + "[[route]\n", "not valid TOML"),
    (lambda c: c.replace('deploy = "deploy.md"', 'deploy = "bad.md"'), "cannot read"),
])
def test_bad_config_is_one_line(tmp_path: Path, relay_env: None, edit: Any,
                                message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_HOOK_URL", "https://x/robot/send?access_token=x")
    monkeypatch.setenv("OPS_HOOK_SECRET", "SEC")
    with pytest.raises(RelayConfigError, match=message) as caught:
        load_config(write_config(tmp_path, edit(CONFIG)))
    assert "\n" not in str(caught.value)


def test_a_route_template_that_breaks_falls_back_to_the_default(
        tmp_path: Path, relay_env: None) -> None:
    (tmp_path / "big.md").write_text("{% for a in alerts %}{% for b in alerts %}"
                                     "{{ externalURL }}{% endfor %}{% endfor %}")
    config = load_config(write_config(tmp_path, '[relay]\ntoken_env = "RELAY_TOKEN"\n'
                                      '[[route]]\nname = "r"\ntemplate = "big.md"\n'
                                      'work_notice = { userids = ["u1"] }\n'))
    body = payload(*[alert(f"A{i}") for i in range(300)])
    body["externalURL"] = "x" * 100
    [item] = items_for(config, body)
    assert "[FIRING:300]" in item.messages[0]["markdown"]["text"]


# -- messages ------------------------------------------------------------------------------

def test_default_markdown_lists_firing_then_resolved() -> None:
    title, text = default_markdown(payload(), [alert("Disk", "resolved"), alert("Disk")])
    assert title == "[FIRING:1] Disk"
    assert text.index("**Firing**") < text.index("**Resolved**")
    assert "Disk summary" in text and "Disk details" in text and "generatorURL" not in text
    assert "(http://prometheus.local/graph?g0.expr=up)" in text


def test_long_markdown_is_split_into_parts_a_work_notice_accepts() -> None:
    text = "\n".join(f"- 告警 line {i} " + "x" * 80 for i in range(200))
    parts = split_markdown("Storm", text)
    assert len(parts) > 5
    for i, part in enumerate(parts, 1):
        encode_msg(message_from_dict(part))  # raises if over 2,048 bytes
        assert part["markdown"]["text"].startswith(f"({i}/{len(parts)})")
    joined = "".join(p["markdown"]["text"].split("\n\n", 1)[1] for p in parts)
    assert joined == text


def test_one_huge_line_is_cut_not_refused() -> None:
    parts = split_markdown("T", "y" * 10_000)
    assert all(len(json.dumps(p)) <= 2048 for p in parts)
    assert "".join(p["markdown"]["text"].split("\n\n", 1)[1] for p in parts) == "y" * 10_000


def test_digest_carries_every_message_in_order_and_fits_one_body() -> None:
    messages = [{"msgtype": "markdown", "markdown": {"title": f"t{i}", "text": f"body {i}"}}
                for i in range(3)]
    out = digest(messages)
    assert out.title.startswith("3 notifications")
    assert out.text.index("body 0") < out.text.index("body 1") < out.text.index("body 2")
    big = [{"msgtype": "text", "text": {"content": "z" * 5000}}] * 10
    assert pack(big) == 3
    assert pack(big[:1] * 1) == 1


def test_pacer_allows_nineteen_a_minute() -> None:
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    pacer.record(19)
    assert pacer.wait_for() == 60.0
    now[0] = 60.0
    assert pacer.wait_for() == 0.0


# -- the queue -----------------------------------------------------------------------------

async def test_queue_survives_reopen_and_requeues_what_was_sending(tmp_path: Path) -> None:
    q = await Queue.open(tmp_path / "q.sqlite", limit=10)
    ids, new = await q.add([ITEM, ITEM])
    assert new and len(ids) == 2
    claimed = await q.claim(1)
    assert [r.id for r in claimed] == ids[:1]
    await q.close()  # as if killed: the claimed row is still "sending"
    q = await Queue.open(tmp_path / "q.sqlite", limit=10)
    assert q.depth == 2
    assert [r.id for r in await q.claim(5)] == ids
    await q.update(ids, "sent", task_ids=[1])
    assert q.depth == 0
    view = await q.get(ids[0])
    assert view is not None and view["status"] == "sent" and view["task_ids"] == [1]
    await q.close()


async def test_idempotency_key_returns_the_same_ids_and_queues_nothing(tmp_path: Path) -> None:
    q = await Queue.open(tmp_path / "q.sqlite", limit=10)
    first = await q.add([ITEM], key="k")
    again = await q.add([ITEM], key="k")
    assert again == (first[0], False) and q.depth == 1
    expired = await q.add([ITEM], key="old", ttl=-1)
    assert (await q.add([ITEM], key="old"))[0] != expired[0]
    await q.close()


async def test_a_full_queue_refuses_and_commits_nothing(tmp_path: Path) -> None:
    q = await Queue.open(tmp_path / "q.sqlite", limit=2)
    await q.add([ITEM])
    with pytest.raises(QueueFullError):
        await q.add([ITEM, ITEM])
    assert q.depth == 1 and len(await q.claim(10)) == 1
    await q.close()


# -- HTTP ----------------------------------------------------------------------------------

@pytest.fixture
async def server(tmp_path: Path, relay_env: None,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, Queue]]:
    monkeypatch.setenv("OPS_HOOK_URL", "https://x/robot/send?access_token=x")
    monkeypatch.setenv("OPS_HOOK_SECRET", "SEC")
    text = CONFIG.replace('token_env = "RELAY_TOKEN"',
                          'token_env = "RELAY_TOKEN"\nbody_limit = 4096\nqueue_limit = 3')
    config = load_config(write_config(tmp_path, text))
    queue = await Queue.open(config.queue, limit=config.queue_limit)
    app = RelayApp(config, queue, Metrics(), Bell()).build()
    async with TestServer(app, host="127.0.0.1") as srv:
        yield str(srv.make_url("")), queue
    await queue.close()


async def _req(url: str, path: str, body: bytes | None = None,
               headers: dict[str, str] = AUTH) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as s, s.request(
            "GET" if body is None else "POST", url + path, data=body, headers=headers) as r:
        return r.status, await r.text(), r.headers


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": TOKEN}])
async def test_every_endpoint_needs_the_bearer_token(server: tuple[str, Queue],
                                                     headers: dict[str, str]) -> None:
    url, queue = server
    for path, body in (("/healthz", None), ("/metrics", None), ("/notifications/x", None),
                       ("/notify", b"{}"), ("/alertmanager", json.dumps(payload()).encode())):
        status, text, _ = await _req(url, path, body, headers)
        assert status == 401, path
        assert TOKEN not in text
    assert queue.depth == 0


async def test_malformed_json_is_400_with_one_line(server: tuple[str, Queue]) -> None:
    url, _ = server
    status, text, _ = await _req(url, "/alertmanager", b'{"alerts": [')
    assert status == 400 and text.count("\n") == 1 and "malformed JSON" in text


async def test_body_above_the_limit_is_413(server: tuple[str, Queue]) -> None:
    url, queue = server
    status, _, _ = await _req(url, "/notify", b" " * 5000)
    assert status == 413 and queue.depth == 0


async def test_a_full_queue_answers_503_with_retry_after_and_never_4xx(
        server: tuple[str, Queue]) -> None:
    url, _ = server
    answers = []
    for i in range(5):
        body = json.dumps(payload(alert(f"A{i}"), group=f"g{i}")).encode()
        status, _, headers = await _req(url, "/alertmanager", body)
        answers.append((status, headers.get("Retry-After")))
    assert answers == [(200, None)] * 3 + [(503, "30")] * 2


async def test_an_alert_without_labels_goes_to_the_catch_all(
        server: tuple[str, Queue]) -> None:
    url, queue = server
    body = payload(alert("X"))
    body["alerts"][0]["labels"] = {}
    status, text, _ = await _req(url, "/alertmanager", json.dumps(body).encode())
    assert status == 200 and len(json.loads(text)["ids"]) == 1 and queue.depth == 1


async def test_a_payload_no_route_matches_is_still_2xx(tmp_path: Path, relay_env: None) -> None:
    config = load_config(write_config(tmp_path, '[relay]\ntoken_env = "RELAY_TOKEN"\n'
                                      '[[route]]\nname = "r"\nmatch = { team = "db" }\n'
                                      'work_notice = { userids = ["u1"] }\n'))
    queue = await Queue.open(config.queue, limit=10)
    metrics = Metrics()
    async with TestServer(RelayApp(config, queue, metrics, Bell()).build(),
                          host="127.0.0.1") as srv:
        status, text, _ = await _req(str(srv.make_url("")), "/alertmanager",
                                     json.dumps(payload(alert("X", team="web"))).encode())
    await queue.close()
    assert (status, json.loads(text)) == (200, {"ids": []})
    assert metrics.counts["unrouted_alerts"] == 1


async def test_notify_checks_the_request_before_queueing(server: tuple[str, Queue]) -> None:
    url, queue = server
    bad = [{"to": {"userids": ["u1"]}, "channel": "webhook", "message": {}},
           {"route": "nope", "message": {"msgtype": "text", "text": {"content": "x"}}},
           {"to": {"userids": ["u1"]}, "message": {"msgtype": "nope"}},
           {"to": {"userids": ["u1"]}},
           {"to": {}, "message": {"msgtype": "text", "text": {"content": "x"}}},
           {"route": "db-oncall", "template": "../../etc/passwd", "data": {}},
           {"route": "db-oncall", "message": {"msgtype": "text", "text": {"content": "x"}},
            "url": "http://evil/"}, ]
    for body in bad[:-1]:
        status, text, _ = await _req(url, "/notify", json.dumps(body).encode())
        assert status == 400, body
        assert text.count("\n") == 1
    assert queue.depth == 0
    status, _, _ = await _req(url, "/notify", json.dumps(bad[-1]).encode())
    assert status == 202  # unknown fields never choose a target: the route does


async def test_allow_recipients_limits_what_a_token_may_name(
        server: tuple[str, Queue]) -> None:
    url, queue = server
    limited = {"Authorization": "Bearer limited-T0KEN-abcdef"}
    msg = {"msgtype": "text", "text": {"content": "x"}}
    ok = json.dumps({"to": {"userids": ["u000001"]}, "message": msg}).encode()
    other = json.dumps({"to": {"userids": ["u000001", "boss"]}, "message": msg}).encode()
    dept = json.dumps({"to": {"dept_ids": [1]}, "message": msg}).encode()
    assert (await _req(url, "/notify", ok, limited))[0] == 202
    assert (await _req(url, "/notify", other, limited))[0] == 403
    assert (await _req(url, "/notify", dept, limited))[0] == 403
    assert (await _req(url, "/notify", other))[0] == 202  # the main token is unrestricted
    assert queue.depth == 2


async def test_metrics_and_healthz(server: tuple[str, Queue]) -> None:
    url, _ = server
    msg = {"msgtype": "text", "text": {"content": "x"}}
    await _req(url, "/notify", json.dumps({"to": {"userids": ["u1"]}, "message": msg}).encode())
    status, text, _ = await _req(url, "/metrics")
    assert status == 200
    assert "dingnotify_relay_accepted_total 1" in text
    assert "dingnotify_relay_queue_depth 1" in text
    assert "dingnotify_relay_oldest_queued_age_seconds" in text
    assert "dingnotify_relay_rate_limit_waits_total 0" in text
    assert TOKEN not in text
    status, text, _ = await _req(url, "/healthz")
    assert status == 200 and json.loads(text)["status"] == "ok"


async def test_purge_forgets_ended_notifications_and_expired_keys_only(tmp_path: Path) -> None:
    q = await Queue.open(tmp_path / "q.sqlite", limit=10)
    (done,), _ = await q.add([ITEM], key="old", ttl=-1)
    (waiting,), _ = await q.add([ITEM])
    await q.update([done], "delivered")
    await q.purge(keep=-1)
    assert await q.get(done) is None
    assert (await q.get(waiting) or {}).get("status") == "queued"
    assert (await q.add([ITEM], key="old"))[1] is True  # the key was forgotten
    await q.close()


def test_a_route_template_reads_the_payload_with_its_own_alerts(
        tmp_path: Path, relay_env: None) -> None:
    (tmp_path / "alert.md").write_text(
        "## {{ status }} {{ commonLabels.team }}\n"
        "{% for a in alerts %}- {{ a.labels.alertname }}: {{ a.annotations.summary }}\n"
        "{% endfor %}")
    config = load_config(write_config(tmp_path, '[relay]\ntoken_env = "RELAY_TOKEN"\n'
                                      '[[route]]\nname = "db"\ntemplate = "alert.md"\n'
                                      'match = { team = "db" }\n'
                                      'work_notice = { userids = ["u1"] }\n'
                                      '[[route]]\nname = "rest"\nrobot = { userids = ["u2"] }\n'))
    body = payload(alert("A", team="db"), alert("B", team="web"))
    body["commonLabels"] = {"team": "db"}
    db, rest = items_for(config, body)
    assert db.messages == [{"msgtype": "markdown", "markdown": {
        "title": "firing db", "text": "## firing db\n- A: A summary\n"}}]
    assert rest.channel == "robot" and "**B**" in rest.messages[0]["markdown"]["text"]


def _storm(n: int) -> dict[str, Any]:
    return payload(*(alert(f"A{i}", instance=f"h{i}") for i in range(n)))


def test_a_storm_group_becomes_a_digest_within_a_work_notice_budget() -> None:
    from dingnotify.relay._alertmanager import MAX_WORK_NOTICE_PARTS, _built_in

    parts = _built_in("work_notice", _storm(1000), _storm(1000)["alerts"])
    assert len(parts) <= MAX_WORK_NOTICE_PARTS
    for part in parts:
        encode_msg(message_from_dict(part))  # each within 2,048 bytes
    text = "".join(p["markdown"]["text"] for p in parts)
    listed = len(re.findall(r"- \*\*A\d+\*\* h\d+: A\d+ summary", text))
    [rest] = re.findall(r"\.\.\. and (\d+) more alerts: \[Alertmanager\]\(http://am:9093\)",
                        text)
    assert listed + int(rest) == 1000 and listed > 20
    assert parts[0]["markdown"]["title"] == "[FIRING:1000] A0, A1, A2 +997"


def test_a_mid_sized_group_is_listed_whole_one_line_each() -> None:
    from dingnotify.relay._alertmanager import _built_in

    parts = _built_in("work_notice", _storm(150), _storm(150)["alerts"])
    text = "".join(p["markdown"]["text"] for p in parts)
    assert "more alerts" not in text and "A0 details" not in text
    assert all(f"**A{i}** h{i}: A{i} summary" in text for i in range(150))


def test_a_storm_group_for_a_group_robot_is_one_message() -> None:
    from dingnotify.relay._alertmanager import MAX_ROBOT_BYTES, _built_in

    [message] = _built_in("webhook", _storm(5000), _storm(5000)["alerts"])
    assert len(message["markdown"]["text"].encode()) <= MAX_ROBOT_BYTES
    assert "more alerts" in message["markdown"]["text"]
