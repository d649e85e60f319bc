"""Rank documents for a query with a ``swiftcls deploy`` (or ``vllm serve``) /rerank endpoint, standard library only.

The served model must have one output (a reranker or reward model; see docs/reward_rerank.md).

    swiftcls deploy --model exported/rr --port 8000 &
    python examples/rerank_client.py "what is a panda?" "The giant panda is a bear." "Paris is in France."
    python examples/rerank_client.py --top_n 1 "query" "doc 1" "doc 2" "doc 3"
    python examples/rerank_client.py --score "query" "doc 1" "doc 2"      # /score: scores in document order
    SWIFTCLS_API_KEY=secret python examples/rerank_client.py "query" "doc"  # server started with --api_key
"""

import argparse
import json
import os
import urllib.error
import urllib.request


def _post(url: str, path: str, body: dict, api_key: str | None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
    request = urllib.request.Request(f"{url}{path}", json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:  # 4xx/5xx carry {"error": {"message": ...}}
        raise SystemExit(f"HTTP {err.code}: {json.loads(err.read())['error']['message']}") from None


def rerank(url: str, query: str, documents: list[str], top_n: int = 0, api_key: str | None = None) -> list[dict]:
    """POST ``/rerank``; the results, best first: ``[{"index", "document": {"text"}, "relevance_score"}, ...]``."""
    return _post(url, "/rerank", {"query": query, "documents": documents, "top_n": top_n}, api_key)["results"]


def score(url: str, query: str, documents: list[str], api_key: str | None = None) -> list[float]:
    """POST ``/score`` (one query against every document); the scores in document order."""
    out = _post(url, "/score", {"text_1": query, "text_2": documents}, api_key)
    return [item["score"] for item in sorted(out["data"], key=lambda item: item["index"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query")
    parser.add_argument("documents", nargs="+")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--top_n", type=int, default=0, help="return only the best N (0: all)")
    parser.add_argument("--score", action="store_true", help="call /score and print scores in document order")
    args = parser.parse_args()
    key = os.environ.get("SWIFTCLS_API_KEY")
    if args.score:
        for doc, value in zip(args.documents, score(args.url, args.query, args.documents, key)):
            print(f"{value:10.4f}  {doc}")
        return
    for rank, item in enumerate(rerank(args.url, args.query, args.documents, args.top_n, key), 1):
        print(f"{rank:3d}. {item['relevance_score']:10.4f}  [{item['index']}] {item['document']['text']}")


if __name__ == "__main__":
    main()
