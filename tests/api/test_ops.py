"""Operations endpoints: /healthz, /readyz (every dependency, 503 naming the
one that is down), /metrics (Prometheus text format)."""
import re
import uuid

import requests

from conftest import BASE
from extra_ingest import closed_port, extra_ingest

DEPENDENCIES = ("postgres", "redis", "kafka", "s3")


def test_healthz():
    r = requests.get(BASE + "/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"status": "ok"}


def test_readyz_on_the_real_stack():
    r = requests.get(BASE + "/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {d: "ok" for d in DEPENDENCIES}}


def test_readyz_names_an_unreachable_redis():
    with extra_ingest("ingest-noredis", REDIS_URL="redis://127.0.0.1:%d/0" % closed_port()) as i:
        assert requests.get(i.base + "/healthz").status_code == 200  # alive, not ready
        r = requests.get(i.base + "/readyz")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["detail"] == "redis unavailable"
        assert body["checks"]["redis"] != "ok"
        assert {d: body["checks"][d] for d in DEPENDENCIES if d != "redis"} == {
            d: "ok" for d in DEPENDENCIES if d != "redis"}


def metric_samples(base):
    """{(name, frozenset(labels)): value} of a /metrics scrape."""
    r = requests.get(base + "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in r.text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
        assert m, "not exposition format: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def labels(**kw):
    return frozenset(kw.items())


def test_metrics_count_the_requests_just_made():
    ok = ("smartcart_http_requests_total", labels(route="/healthz", method="GET", status="200"))
    missing = ("smartcart_http_requests_total", labels(route="unmatched", method="GET",
                                                       status="404"))
    hist = ("smartcart_http_request_duration_seconds_count",
            labels(route="/healthz", method="GET", status="200"))
    inf = ("smartcart_http_request_duration_seconds_bucket",
           labels(route="/healthz", method="GET", status="200", le="+Inf"))
    before = metric_samples(BASE)
    for _ in range(3):
        assert requests.get(BASE + "/healthz").status_code == 200
    assert requests.get(BASE + "/no-such-%s" % uuid.uuid4().hex).status_code == 404
    after = metric_samples(BASE)
    assert after[ok] - before.get(ok, 0) == 3
    assert after[missing] - before.get(missing, 0) == 1
    assert after[hist] - before.get(hist, 0) == 3
    assert after[inf] == after[hist]
    # the scrape itself is in flight while it renders
    assert after[("smartcart_http_in_flight", frozenset())] >= 1
    assert ("smartcart_kafka_produce_errors_total", frozenset()) in after


def test_metrics_histogram_buckets_are_cumulative():
    requests.get(BASE + "/healthz")
    samples = metric_samples(BASE)
    buckets = sorted(
        (float("inf") if dict(l)["le"] == "+Inf" else float(dict(l)["le"]), v)
        for (name, l), v in samples.items()
        if name == "smartcart_http_request_duration_seconds_bucket"
        and dict(l)["route"] == "/healthz" and dict(l)["status"] == "200")
    assert len(buckets) > 2 and buckets[-1][0] == float("inf")
    values = [v for _, v in buckets]
    assert values == sorted(values)
