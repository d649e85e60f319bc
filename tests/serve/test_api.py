"""``swiftcls deploy``'s HTTP API in-process (FastAPI's TestClient): response shape, labels, auth, limits, errors."""

import numpy as np
import pytest
from fastapi import APIRouter

from swiftcls import DeployArguments
from swiftcls.core.errors import ConfigError
from swiftcls.data.collators import PackingCollator
from swiftcls.data.dataset import Example
from swiftcls.inference.classifier import Classifier
from swiftcls.serve.schemas import ClassifyResponse, ErrorResponse, ModelList

TEXTS = ["alpha beta good thing", "gamma delta bad thing", "omega red blue", "kappa"]
AUTH = {"Authorization": "Bearer s3cret"}


def test_health_models_and_vllm_response_shape(trained, client):
    _, kw = trained("single")
    c = client("single")
    health = c.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok", "requests": 0, "rows": 0, "batches": 0,
                                                         "rejected": 0})
    models = c.get("/v1/models").json()
    assert models["data"][0]["id"] == "tiny" and ModelList.model_validate(models)
    resp = c.post("/classify", json={"model": "tiny", "input": TEXTS})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert set(out) == {"id", "object", "created", "model", "data", "usage"} and ClassifyResponse.model_validate(out)
    assert out["object"] == "list" and out["model"] == "tiny" and out["id"].startswith("classify-")
    expected = Classifier.from_pretrained(adapters=kw["adapters"], device="cpu")
    probs = expected.predict_proba(TEXTS)
    assert [d["index"] for d in out["data"]] == [0, 1, 2, 3]
    np.testing.assert_allclose([d["probs"] for d in out["data"]], probs, atol=1e-5)
    assert [d["label"] for d in out["data"]] == expected.predict(TEXTS)  # label names, not ids
    assert all(d["num_classes"] == 2 and set(d) == {"index", "label", "probs", "num_classes", "pred"}
               for d in out["data"])
    tokens = sum(len(r["input_ids"]) for r in expected.encode([Example(t) for t in TEXTS]))
    assert out["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0,
                            "prompt_tokens_details": None, "completion_tokens_details": None}
    one = c.post("/v1/classify", json={"input": TEXTS[0]})  # a single string, no model field, the /v1 path
    assert one.status_code == 200 and len(one.json()["data"]) == 1
    np.testing.assert_allclose(one.json()["data"][0]["probs"], out["data"][0]["probs"], atol=1e-5)
    logits = c.post("/classify", json={"input": TEXTS, "use_activation": False}).json()["data"]
    np.testing.assert_allclose([d["probs"] for d in logits], np.log(probs) - np.log(probs).mean(1, keepdims=True)
                               + np.array([d["probs"] for d in logits]).mean(1, keepdims=True), atol=1e-4)
    wrong = c.post("/classify", json={"model": "other", "input": "x"})
    assert wrong.status_code == 404 and ErrorResponse.model_validate(wrong.json()).error.param == "model"
    assert c.get("/health").json()["requests"] == 3  # the 404 never reached the batcher
    # Batches are packed without pad tokens by default (tiny Qwen2); --padding_free false pads, same scores.
    padded = client("single", padding_free=False)
    assert isinstance(c.app.state.service.clf.collator, PackingCollator)
    assert not isinstance(padded.app.state.service.clf.collator, PackingCollator)
    same = padded.post("/classify", json={"model": "tiny", "input": TEXTS}).json()
    np.testing.assert_allclose([d["probs"] for d in same["data"]], [d["probs"] for d in out["data"]], atol=1e-5)


def test_multi_label_threshold_from_training_and_flag(client):
    c = client("multi")
    clf = c.app.state.service.clf
    assert clf.labels == ["blue", "red"] and clf.threshold == 0.3
    out = c.post("/classify", json={"input": TEXTS}).json()
    for d in out["data"]:
        assert d["pred"] == [n for n, p in zip(["blue", "red"], d["probs"]) if p >= 0.3]
    high = client("multi", threshold=0.99)
    assert all(d["pred"] == [] for d in high.post("/classify", json={"input": TEXTS}).json()["data"])


def _protected_routes(app):
    """(method, path) of every route of the app but /health, read from the app itself (and the included one)."""
    own = [(sorted(r.methods - {"HEAD"})[0], r.path) for r in app.routes if hasattr(r, "methods")]
    return [r for r in own if r[1] != "/health"] + [("GET", "/v1/extra")]


def test_api_key_on_every_route_but_health_including_routes_added_later(client):
    c = client("single", api_key="s3cret")
    extra = APIRouter()  # a route added after the app was built, as a contributor would add one
    extra.add_api_route("/v1/extra", lambda: {"secret": 1}, methods=["GET"])
    c.app.include_router(extra)
    c.app.get("/v1/extra2")(lambda: {"secret": 2})
    routes = _protected_routes(c.app)
    assert {("POST", "/classify"), ("POST", "/v1/classify"), ("POST", "/score"), ("POST", "/rerank"),
            ("GET", "/v1/models"), ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/openapi.json"),
            ("GET", "/v1/extra"), ("GET", "/v1/extra2")} <= set(routes)
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"},
                        {"Authorization": "Bearer s3cre"}):
            resp = c.request(method, path, json={"input": "x"}, headers=headers)
            assert resp.status_code == 401, (method, path, headers, resp.text)
            assert "API key" in resp.json()["error"]["message"] and resp.headers["www-authenticate"] == "Bearer"
        resp = c.request(method, path, json={"input": "x"}, headers=AUTH)
        if path.endswith(("/score", "/rerank")):  # reached: and refused, as this model has two outputs
            route = "/score" if path.endswith("/score") else "/rerank"
            assert resp.status_code == 400 and resp.json()["error"]["code"] == 400, (path, resp.text)
            assert resp.json()["error"]["message"].startswith(f"{route} needs a one-output model (a reward model")
            assert "this one has 2 outputs (single_label_classification: " in resp.json()["error"]["message"]
            assert resp.json()["error"]["message"].endswith("use /classify for it.")
        else:
            assert resp.status_code == 200, (method, path)
    assert c.get("/health").status_code == 200  # health stays open for probes
    assert c.get("/v1/extra2", headers=AUTH).json() == {"secret": 2}
    with pytest.raises(ConfigError, match="one-output model.*2 outputs.*predict_proba"):
        c.app.state.service.clf.score("q", ["d"])  # Classifier.score refuses the same model
    # The key is read from SWIFTCLS_API_KEY when --api_key is not given.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWIFTCLS_API_KEY", "from-env")
        env = client("single")
        assert env.get("/v1/models").status_code == 401
        assert env.get("/v1/models", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_limits_and_invalid_requests_get_clear_422_413_404_405(client):
    c = client("single", api_key="s3cret", max_inputs=3, max_text_length=50, max_request_bytes=2000)
    resp = c.post("/classify", json={"input": "x" * 3000}, headers=AUTH)
    err = resp.json()["error"]
    assert resp.status_code == 413 and "--max_request_bytes 2000" in err["message"] and err["code"] == 413
    assert resp.headers["connection"] == "close"
    for body, needle in (({"input": ["a"] * 4}, "max_inputs"), ({"input": "y" * 51}, "max_text_length"),
                         ({"input": [1, 2, 3]}, "not a string"), ({"text": "x"}, "exactly one"),
                         ({"input": []}, "non-empty"), ([1], "JSON object"), ({"input": "x", "images": [["a"]]},
                                                                                "text-only"),
                         ({"input": "x", "messages": []}, "exactly one"), ({"messages": []}, "non-empty"),
                         ({"messages": [{"role": "bot", "content": "x"}]}, "messages.0.role"),
                         ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
                          "messages.0.content.0: Input tag 'audio'"),
                         ({"input": "x", "use_activation": "maybe"}, "use_activation"),
                         ({"input": ["a", "b"], "text_pair": ["c"]}, "one item per input"),
                         ({"input": "x", "images": "a.png"}, "images")):
        resp = c.post("/classify", json=body, headers=AUTH)
        assert (resp.status_code, needle in resp.json()["error"]["message"]) == (422, True), (body, resp.text)
        assert ErrorResponse.model_validate(resp.json()).error.type == "UnprocessableEntityError"
    for raw in (b"{not json", b"[" * 1000 + b"]" * 1000, b"\xff\xfe"):  # the second nests deeper than json parses
        resp = c.post("/classify", content=raw, headers=AUTH)
        assert resp.status_code == 422 and "not valid JSON" in resp.json()["error"]["message"]
    # Any Content-Type is read as JSON (curl -d sends application/x-www-form-urlencoded).
    form = c.post("/classify", content=b'{"input": "x"}', headers={**AUTH, "Content-Type": "text/plain"})
    assert form.status_code == 200
    missing = c.post("/nowhere", json={}, headers=AUTH)
    assert missing.status_code == 404 and "no route POST /nowhere" in missing.json()["error"]["message"]
    assert c.post("/classify/", json={}, headers=AUTH).status_code == 404  # no redirect to /classify
    wrong = c.get("/classify", headers=AUTH)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["message"] == "/classify takes POST, not GET."
    assert c.post("/health").status_code == 405


def test_chunked_bodies_are_accepted_and_counted_against_the_limit(client):
    c = client("single", max_request_bytes=200)
    body = b'{"input": ["alpha beta good thing", "kappa"]}'

    def chunks(data, size=7):  # a generator body: httpx sends it with Transfer-Encoding: chunked
        yield from (data[i:i + size] for i in range(0, len(data), size))

    resp = c.post("/classify", content=chunks(body))
    assert resp.status_code == 200 and len(resp.json()["data"]) == 2
    big = b'{"input": "' + b"x" * 400 + b'"}'
    resp = c.post("/classify", content=chunks(big, 50))
    assert resp.status_code == 413 and resp.headers["connection"] == "close"
    assert "--max_request_bytes 200" in resp.json()["error"]["message"]


def test_bad_limits_are_refused_when_the_options_are_made():
    for flags, needle in (({"max_concurrency": 0}, "max_concurrency"), ({"request_timeout": 0}, "request_timeout"),
                          ({"keep_alive_timeout": 0}, "keep_alive_timeout"), ({"max_queue": 0}, "max_queue"),
                          ({"max_wait_ms": -1}, "max_wait_ms"), ({"image_dir": "/no/such/folder"}, "image_dir")):
        with pytest.raises(ConfigError, match=needle):
            DeployArguments(model="m", **flags)  # before any model is loaded


def test_metrics_count_requests_latency_batches_and_queue(client):
    c = client("single", api_key="s3cret")
    for _ in range(3):
        assert c.post("/classify", json={"input": TEXTS[:2]}, headers=AUTH).status_code == 200
    assert c.post("/classify", json={"input": []}, headers=AUTH).status_code == 422
    assert c.get("/nowhere/1", headers=AUTH).status_code == 404
    assert c.get("/metrics").status_code == 401
    resp = c.get("/metrics", headers=AUTH)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    samples = _samples(resp.text)
    assert samples['swiftcls_requests_total{method="POST",route="/classify",status="200"}'] == 3
    assert samples['swiftcls_requests_total{method="POST",route="/classify",status="422"}'] == 1
    assert samples['swiftcls_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    assert samples['swiftcls_requests_total{method="GET",route="/metrics",status="401"}'] == 1
    assert samples['swiftcls_request_duration_seconds_count{route="/classify"}'] == 4
    assert samples['swiftcls_request_duration_seconds_bucket{le="+Inf",route="/classify"}'] == 4
    assert samples["swiftcls_batch_rows_count"] == 3 and samples["swiftcls_batch_rows_sum"] == 6
    assert samples["swiftcls_queue_depth"] == 0 and samples["swiftcls_requests_in_flight"] == 1  # this scrape
    again = _samples(c.get("/metrics", headers=AUTH).text)  # counters move
    assert again['swiftcls_requests_total{method="GET",route="/metrics",status="200"}'] == 1


def _samples(text):
    """``{'name{labels}': value}`` of a Prometheus text exposition (labels sorted, as we compare them)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            if "{" in key:
                name, labels = key[:-1].split("{", 1)
                key = name + "{" + ",".join(sorted(labels.split(","))) + "}"
            out[key] = float(value)
    return out


def test_openapi_documents_the_routes_and_schemas(client):
    c = client("single")
    spec = c.get("/openapi.json").json()
    assert {"/classify", "/v1/classify", "/v1/models", "/metrics", "/health"} <= set(spec["paths"])
    body = spec["paths"]["/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ClassifyRequest"}
    schemas = spec["components"]["schemas"]
    fields = set(schemas["ClassifyRequest"]["properties"])
    assert {"input", "messages", "text_pair", "images", "use_activation"} <= fields
    assert {"ChatMessage", "ClassifyResponse", "ErrorResponse"} <= set(schemas)
    assert all(ref.split("/")[-1] in schemas for ref in _refs(spec))  # every $ref resolves
    page = c.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower() and "/openapi.json" in page.text


def _refs(node):
    if isinstance(node, dict):
        yield from ([node["$ref"]] if "$ref" in node else [])
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
