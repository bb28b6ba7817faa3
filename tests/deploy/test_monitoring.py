"""Offline checks of infra/monitoring (alert rules, Grafana dashboard, Prometheus's scrape config)
and of every PromQL query and `uise_…` metric name anywhere under infra/ (the Kubernetes and KEDA
files included): each query parses (promql-parser, the Rust parser's Python binding), and each
metric it names is one uise_common.metrics defines, with that metric's labels. Prometheus's own
promtool (Debian's `prometheus` package; .ci/run installs it) checks the config and the rules and
runs the rules' unit tests (infra/monitoring/alerts.test.yml: which alert fires when)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import promql_parser
import pytest
import yaml
from promql_parser import MatchOp

from uise_common import metrics
from uise_stack.config import EVERYTHING, StackConfig

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MONITORING = INFRA / "monitoring"
ALERTS = MONITORING / "alerts.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
PROMETHEUS = MONITORING / "prometheus.yml"
ALERTS_TEST = MONITORING / "alerts.test.yml"
SEVERITIES = {"warning", "critical"}
# Labels Prometheus adds to every series it scrapes; `le` is a histogram bucket's bound.
TARGET_LABELS = {"job", "instance"}
METRIC_TOKEN = re.compile(r"\buise_[a-z_]+")
# `uise_stack`, `uise_common`, …: Python packages, named in commands and paths, not metrics.
PACKAGES = {p.name for p in [*ROOT.glob("*/src/uise_*"), *ROOT.glob("*/*/src/uise_*")] if p.is_dir()}


# --- the catalogue ----------------------------------------------------------------------------

def catalogued(name: str) -> metrics.MetricName | None:
    """The metric a series name belongs to: itself, or a histogram's _bucket/_sum/_count."""
    if name in metrics.CATALOGUE:
        found = metrics.CATALOGUE[name]
        return None if found.kind == "histogram" else found  # a histogram is queried by its series
    for suffix in metrics.HISTOGRAM_SUFFIXES:
        base = metrics.CATALOGUE.get(name.removesuffix(suffix)) if name.endswith(suffix) else None
        if base is not None and base.kind == "histogram":
            return base
    return None


def problems_of(expr: str) -> list[str]:
    """What is wrong with a PromQL expression: it does not parse, names an undefined uise_ metric,
    matches on a label that metric does not have, or an outcome the consumers never count."""
    if not balanced(expr):
        return [f"unbalanced brackets: {expr}"]
    try:
        ast = promql_parser.parse(expr)
    except Exception as exc:
        return [f"does not parse ({exc}): {expr}"]
    found: list[str] = []

    def visit(node) -> None:
        if not isinstance(node, promql_parser.VectorSelector) or not (node.name or "").startswith("uise_"):
            return
        metric = catalogued(node.name)
        if metric is None:
            found.append(f"{node.name} is not defined in uise_common.metrics: {expr}")
            return
        allowed = set(metric.labels) | TARGET_LABELS | ({"le"} if node.name.endswith("_bucket") else set())
        for m in node.matchers.matchers:
            if m.name == "__name__":
                continue
            if m.name not in allowed:
                found.append(f"{node.name} has no label {m.name!r}: {expr}")
            if m.name == "outcome":  # a value or an alternation of values, never a typo
                values = set(m.value.split("|")) if m.op in (MatchOp.Re, MatchOp.NotRe) else {m.value}
                if values - set(metrics.OUTCOMES):
                    found.append(f"no consumer counts outcome {sorted(values - set(metrics.OUTCOMES))}: {expr}")

    promql_parser.walk(ast, pre_visit=visit)
    return found


def balanced(expr: str) -> bool:
    pairs, stack, quote = {")": "(", "]": "[", "}": "{"}, [], None
    for i, ch in enumerate(expr):
        if quote:
            if ch == quote and expr[i - 1] != "\\":
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack and quote is None


def grafana_to_promql(expr: str) -> str:
    """A dashboard's query as Prometheus receives it: Grafana's variables replaced."""
    expr = re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", lambda m: ".*", expr)


def test_the_checks_catch_what_they_are_for():
    assert problems_of('sum(rate(uise_consumer_messages_total{outcome="processed"}[5m]))') == []
    assert problems_of("uise_consumer_lags > 0")  # a typo of a name
    assert problems_of("uise_http_request_duration_seconds > 1")  # a histogram is queried by its series
    assert problems_of('uise_outbox_backlog{topic="x"}')  # no such label
    assert problems_of('uise_consumer_messages_total{outcome="lost"}')
    assert problems_of('uise_consumer_messages_total{outcome=~"failed|dead_letter"}')
    assert problems_of("sum(rate(uise_outbox_published_total[5m])")  # unbalanced
    assert problems_of("rate(uise_outbox_published_total)")  # rate needs a range
    assert not balanced("sum(x{a=\"(\"}]")
    assert balanced('sum(x{a="(]"})')


# --- infra/monitoring -------------------------------------------------------------------------

def rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_alert_rule_is_complete_and_its_expression_sound():
    doc = yaml.safe_load(ALERTS.read_text())
    assert doc["groups"] and all(g["name"] and g["rules"] for g in doc["groups"])
    names = [r["alert"] for r in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"(\d+(ms|[smhdwy]))+", rule["for"]), rule["alert"]  # 0m: at once
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert problems_of(rule["expr"]) == [], rule["alert"]
        for text in rule["annotations"].values():  # Go templates: every {{ closed
            assert text.count("{{") == text.count("}}"), rule["alert"]


def test_the_alerts_cover_what_ops_watches_on_a_deadline_night():
    by_metric: dict[str, set[str]] = {}
    for rule in rules():
        for token in set(METRIC_TOKEN.findall(rule["expr"])) | ({"up"} if "up{" in rule["expr"] else set()):
            by_metric.setdefault(token, set()).add(rule["alert"])
    assert "uise_consumer_lag" in by_metric  # lag growing
    assert any('outcome="dead_lettered"' in r["expr"] for r in rules())  # a DLQ no longer empty
    assert {"uise_outbox_backlog", "uise_outbox_oldest_unsent_seconds"} <= set(by_metric)
    assert any('status=~"5.."' in r["expr"] for r in rules())  # server errors
    assert "up" in by_metric  # a process down


def dashboard_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    out = []
    for panel in doc["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    return out


def test_the_dashboard_parses_and_shows_every_metric():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] and doc["schemaVersion"]
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    queries = dashboard_queries()
    assert queries
    for title, expr in queries:
        assert problems_of(grafana_to_promql(expr)) == [], title
    shown = {catalogued(t).name for _, e in queries for t in METRIC_TOKEN.findall(e) if catalogued(t)}
    assert shown == set(metrics.CATALOGUE), f"not on the dashboard: {set(metrics.CATALOGUE) - shown}"
    titles = " / ".join(t for t, _ in queries).lower()
    for topic in ("processed", "lag", "outbox backlog", "intake", "p50", "p99", "status", "submissions by state",
                  "violations"):
        assert topic in titles, topic


def test_prometheus_scrapes_every_process_of_the_embedded_stack_at_its_port():
    doc = yaml.safe_load(PROMETHEUS.read_text())
    assert (PROMETHEUS.parent / doc["rule_files"][0]).resolve() == ALERTS.resolve()
    jobs = {j["job_name"]: [t for sc in j["static_configs"] for t in sc["targets"]] for j in doc["scrape_configs"]}
    ports = StackConfig().service_ports
    assert jobs == {f"uise-{name}": [f"127.0.0.1:{ports[name]}"] for name in EVERYTHING}
    assert all(j.get("metrics_path", "/metrics") == "/metrics" for j in doc["scrape_configs"])
    assert any(re.fullmatch(r.split('job=~"')[1].split('"')[0], next(iter(jobs)))
               for r in (rule["expr"] for rule in rules()) if 'job=~"' in r)  # "service down" sees them


def promtool(*args: object) -> subprocess.CompletedProcess:
    tool = os.environ.get("UISE_PROMTOOL") or shutil.which("promtool")
    if not tool:
        pytest.fail("promtool is needed: `apt-get install prometheus` (Debian), or UISE_PROMTOOL=<path>")
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("check", "config", PROMETHEUS), ("check", "rules", ALERTS),
                                  ("test", "rules", ALERTS_TEST)], ids=["config", "rules", "rule-tests"])
def test_promtool_accepts_the_config_and_the_rules_and_their_unit_tests_pass(args):
    result = promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr


# --- everything under infra/ ------------------------------------------------------------------

def infra_files() -> Iterator[Path]:
    for path in sorted(INFRA.rglob("*")):
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts \
                and path.stat().st_size < 2_000_000:
            yield path


def queries_in(doc) -> Iterator[str]:
    """PromQL in a parsed YAML or JSON document: rules' and panels' `expr`, the `query` of
    KEDA's Prometheus scaler (the mapping beside its `serverAddress`), and the `series` of
    promtool's unit tests."""
    if isinstance(doc, dict):
        if isinstance(doc.get("expr"), str):
            yield doc["expr"]
        if isinstance(doc.get("query"), str) and "serverAddress" in doc:
            yield doc["query"]
        if isinstance(doc.get("series"), str) and "values" in doc:
            yield doc["series"]
        for value in doc.values():
            yield from queries_in(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from queries_in(value)


def parsed(path: Path) -> list:
    text = path.read_text(errors="replace")
    try:
        if path.suffix == ".json":
            return [json.loads(text)]
        if path.suffix in (".yml", ".yaml"):
            return list(yaml.safe_load_all(text))
    except (ValueError, yaml.YAMLError):
        if path.is_relative_to(MONITORING):
            raise
        # e.g. a Helm template ({{ … }} outside strings): its names are still checked below
    return []


def test_every_query_under_infra_parses_and_names_defined_metrics():
    found, problems = 0, []
    for path in infra_files():
        for doc in parsed(path):
            for expr in queries_in(doc):
                found += 1
                text = grafana_to_promql(expr) if path.suffix == ".json" else expr
                problems += [f"{path.relative_to(ROOT)}: {p}" for p in problems_of(text)]
    assert found >= len(rules()) + len(dashboard_queries())
    assert problems == []


def test_every_uise_metric_name_under_infra_is_defined():
    unknown = []
    for path in infra_files():
        for token in set(METRIC_TOKEN.findall(path.read_text(errors="replace"))):
            if token not in PACKAGES and catalogued(token) is None and token not in metrics.CATALOGUE:
                unknown.append(f"{path.relative_to(ROOT)}: {token}")
    assert unknown == [], "names that look like metrics but uise_common.metrics does not define"


@pytest.mark.parametrize("name", sorted(metrics.CATALOGUE))
def test_each_catalogued_metric_is_named_as_prometheus_expects(name):
    m = metrics.CATALOGUE[name]
    assert re.fullmatch(r"uise_[a-z_]+", name)
    assert (m.kind == "counter") == name.endswith("_total")
    assert m.kind != "histogram" or name.endswith("_seconds")
    assert m.help and m.labels
