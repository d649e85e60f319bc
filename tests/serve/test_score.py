"""``/score`` and ``/rerank`` (vLLM's shapes) and ``Classifier.score``/``rank`` on a one-output head, in-process."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from swiftcls.core.errors import ConfigError
from swiftcls.data.dataset import Example
from swiftcls.inference.classifier import Classifier
from swiftcls.serve.schemas import ErrorResponse, RerankResponse, ScoreResponse

QUERY = "alpha beta"
DOCS = ["alpha beta kappa", "gamma delta omega", "alpha sigma theta", "kappa"]
AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture(scope="module")
def regression(trained):
    model, _ = trained("regression")
    return Classifier.from_pretrained(model["model"], device="cpu")


def test_classifier_score_is_the_pair_rows_value_and_rank_sorts_it(regression):
    scores = regression.score(QUERY, DOCS)
    pairs = regression.predict([QUERY] * len(DOCS), DOCS)  # a reranker pair is an ordinary text/text_pair row
    np.testing.assert_allclose(scores, pairs, atol=1e-6)
    assert len(set(np.round(scores, 5))) == len(DOCS)  # distinct inputs really score differently
    # The decoder prompt is one user turn "query\ndocument" of the chat template.
    rendered = regression.encoder.render(Example(QUERY, DOCS[0]))
    assert f"{QUERY}\n{DOCS[0]}" in rendered and rendered.count("<|im_start|>user") == 1
    assert regression.score([QUERY, "kappa"], DOCS[:2]) == pytest.approx(
        [scores[0], regression.score("kappa", DOCS[1])[0]], abs=1e-6)  # N <-> N
    ranked = regression.rank(QUERY, DOCS)
    assert [r["index"] for r in ranked] == list(np.argsort(-np.asarray(scores), kind="stable"))
    assert [r["document"] for r in ranked] == [DOCS[r["index"]] for r in ranked]
    assert regression.rank(QUERY, DOCS, top_n=2) == ranked[:2]
    with pytest.raises(ConfigError, match="3 queries but 2 documents"):
        regression.score(["a", "b", "c"], ["x", "y"])


def test_score_and_rerank_endpoints_in_vllm_shape_share_the_batcher_and_metrics(client, regression):
    c = client("regression")
    _check_score(c, regression)
    _check_rerank(c, regression)
    assert c.get("/health").json()["rows"] == (4 * len(DOCS) + 3) + 5 * len(DOCS)  # every pair went through it
    text = c.get("/metrics").text
    assert 'swiftcls_requests_total{method="POST",route="/score",status="200"} 3.0' in text
    assert 'swiftcls_request_duration_seconds_count{route="/rerank"} 3.0' in text
    spec = c.get("/openapi.json").json()
    assert {"/score", "/v1/score", "/rerank", "/v1/rerank", "/v2/rerank"} <= set(spec["paths"])
    assert {"ScoreRequest", "RerankRequest", "ScoreResponse", "RerankResponse"} <= set(spec["components"]["schemas"])


def _check_score(c, regression):
    expected = regression.score(QUERY, DOCS)
    resp = c.post("/score", json={"model": "tiny", "text_1": QUERY, "text_2": DOCS})  # 1 <-> N
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert ScoreResponse.model_validate(out) and set(out) == {"id", "object", "created", "model", "data", "usage"}
    assert out["id"].startswith("score-") and out["object"] == "list" and out["model"] == "tiny"
    assert [(d["index"], d["object"]) for d in out["data"]] == [(i, "score") for i in range(len(DOCS))]
    np.testing.assert_allclose([d["score"] for d in out["data"]], expected, atol=1e-5)
    tokens = sum(len(r["input_ids"]) for r in regression.encode([Example(QUERY, d) for d in DOCS]))
    assert out["usage"]["prompt_tokens"] == out["usage"]["total_tokens"] == tokens
    # vLLM's other names for the two sides, the /v1 path, N <-> N and a single pair.
    for body in ({"queries": QUERY, "documents": DOCS}, {"queries": [QUERY], "items": DOCS},
                 {"data_1": [QUERY] * 4, "data_2": DOCS}):
        again = c.post("/v1/score", json=body)
        assert again.status_code == 200, (body, again.text)
        np.testing.assert_allclose([d["score"] for d in again.json()["data"]], expected, atol=1e-5)
    n_n = c.post("/score", json={"text_1": [QUERY, "kappa"], "text_2": DOCS[:2]}).json()["data"]
    np.testing.assert_allclose([d["score"] for d in n_n], regression.score([QUERY, "kappa"], DOCS[:2]), atol=1e-5)
    one = c.post("/score", json={"text_1": QUERY, "text_2": DOCS[2]}).json()["data"]
    assert len(one) == 1 and one[0]["score"] == pytest.approx(expected[2], abs=1e-5)


def _check_rerank(c, regression):
    scores = regression.score(QUERY, DOCS)
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    for path in ("/rerank", "/v1/rerank", "/v2/rerank"):
        resp = c.post(path, json={"model": "tiny", "query": QUERY, "documents": DOCS})
        assert resp.status_code == 200, (path, resp.text)
        out = resp.json()
        assert RerankResponse.model_validate(out) and set(out) == {"id", "model", "usage", "results"}
        assert [r["index"] for r in out["results"]] == order
        assert [r["document"]["text"] for r in out["results"]] == [DOCS[i] for i in order]
        np.testing.assert_allclose([r["relevance_score"] for r in out["results"]], [scores[i] for i in order],
                                   atol=1e-5)
        assert out["usage"]["prompt_tokens"] == out["usage"]["total_tokens"] > 0
    top = c.post("/rerank", json={"query": QUERY, "documents": DOCS, "top_n": 2}).json()["results"]
    assert [r["index"] for r in top] == order[:2]
    big = c.post("/rerank", json={"query": QUERY, "documents": DOCS, "top_n": 10}).json()["results"]
    assert len(big) == len(DOCS)  # as vLLM: top_n larger than the list returns all


def test_score_and_rerank_errors_are_clear(client):
    c = client("regression", api_key="s3cret", max_inputs=3, max_text_length=50)
    for path, body, status, needle in (
            ("/score", {"text_1": "q", "text_2": ["a", "b", "c", "d"]}, 422, "--max_inputs 3"),
            ("/rerank", {"query": "q", "documents": ["a", "b", "c", "d"]}, 422, "--max_inputs 3"),
            ("/score", {"text_1": ["q", "r"], "text_2": ["a", "b", "c"]}, 422, "'text_1' has 2 texts and 'text_2' 3"),
            ("/score", {"text_1": "q" * 51, "text_2": "a"}, 422, "--max_text_length 50"),
            ("/rerank", {"query": "q", "documents": ["a", "d" * 51]}, 422, "'documents'[1]"),
            ("/score", {"text_1": "q"}, 422, "exactly one of the pairs"),
            ("/score", {"text_1": "q", "text_2": "a", "documents": ["b"]}, 422, "exactly one of the pairs"),
            ("/score", {"text_1": "q", "text_2": [{"content": []}]}, 422, "'text_2'[0] is dict"),
            ("/score", {"text_1": "q", "text_2": []}, 422, "non-empty list"),
            ("/rerank", {"documents": ["a"]}, 422, "query"),
            ("/rerank", {"query": "q", "documents": ["a"], "top_n": -1}, 422, "top_n"),
            ("/rerank", [1], 422, "'query' and 'documents'"),
            ("/score", {"model": "other", "text_1": "q", "text_2": "a"}, 404, "serves `tiny`")):
        resp = c.post(path, json=body, headers=AUTH)
        assert (resp.status_code, needle in resp.json()["error"]["message"]) == (status, True), (path, body, resp.text)
        assert ErrorResponse.model_validate(resp.json())
    assert c.post("/rerank", json={"query": "q", "documents": ["a"]}).status_code == 401  # the key, as /classify
    assert c.get("/health").json()["requests"] == 0  # none of these reached the batcher


def test_example_rerank_client_against_a_live_server(live, regression):
    server = live("regression", api_key="s3cret")
    path = Path(__file__).resolve().parents[2] / "examples" / "rerank_client.py"
    spec = importlib.util.spec_from_file_location("rerank_client", path)
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    url, scores = f"http://127.0.0.1:{server.port}", regression.score(QUERY, DOCS)
    np.testing.assert_allclose(client.score(url, QUERY, DOCS, api_key="s3cret"), scores, atol=1e-5)
    top = client.rerank(url, QUERY, DOCS, top_n=2, api_key="s3cret")
    assert [r["index"] for r in top] == list(np.argsort(-np.asarray(scores), kind="stable"))[:2]
    with pytest.raises(SystemExit, match="HTTP 401"):
        client.rerank(url, QUERY, DOCS)
