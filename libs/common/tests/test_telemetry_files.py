"""Local trace files: one per process, so replicas of a service never append to one file, and
every span names its service and its instance."""

from __future__ import annotations

import json

from uise_common.settings import Settings
from uise_common.telemetry import setup_telemetry


def spans_written(settings: Settings) -> list[dict]:
    tracer_provider, meter_provider = setup_telemetry(settings)
    try:
        with tracer_provider.get_tracer("test").start_as_current_span("work"):
            pass
        tracer_provider.force_flush()
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
    name = settings.instance_name or settings.service_name
    return [json.loads(line) for line in (settings.trace_dir / f"{name}.jsonl").read_text().splitlines()]


def test_a_lone_process_writes_its_services_file(tmp_path):
    (span,) = spans_written(Settings(service_name="intake", data_dir=tmp_path))
    assert (span["service"], span["instance"]) == ("intake", "intake")


def test_a_replica_writes_a_file_of_its_own_and_names_itself_in_each_span(tmp_path):
    spans_written(Settings(service_name="intake", data_dir=tmp_path))
    (span,) = spans_written(Settings(service_name="intake", instance_name="intake-2", data_dir=tmp_path))
    assert (span["service"], span["instance"]) == ("intake", "intake-2")
    assert sorted(p.name for p in (tmp_path / "traces").glob("*.jsonl") if ".metrics." not in p.name) == [
        "intake-2.jsonl", "intake.jsonl"]
    assert len((tmp_path / "traces" / "intake.jsonl").read_text().splitlines()) == 1
