"""Call a ``swiftcls deploy`` (or ``vllm serve``) /classify endpoint with the standard library only.

    swiftcls deploy --model exported/run1 --port 8000 &
    python examples/deploy_client.py "great film" "dull plot"
    python examples/deploy_client.py --image cat.png "<image> what is this?"   # image+text models
    SWIFTCLS_API_KEY=secret python examples/deploy_client.py "text"            # server started with --api_key
"""

import argparse
import base64
import json
import os
import urllib.error
import urllib.request


def classify(url: str, texts: list[str], image: str | None = None, api_key: str | None = None) -> dict:
    """POST ``{"input": texts}`` (plus one inline image per text) and return the parsed response."""
    body = {"input": texts}
    if image:  # sent inline as a data: URL, which the server accepts without --image_dir
        data = base64.b64encode(open(image, "rb").read()).decode()
        body["images"] = [[f"data:image/png;base64,{data}"] for _ in texts]
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
    request = urllib.request.Request(f"{url}/classify", json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:  # 4xx/5xx carry {"error": {"message": ...}}
        raise SystemExit(f"HTTP {err.code}: {json.loads(err.read())['error']['message']}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="+")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--image", help="an image file sent with every text (image+text models)")
    args = parser.parse_args()
    out = classify(args.url, args.texts, args.image, os.environ.get("SWIFTCLS_API_KEY"))
    for text, item in zip(args.texts, out["data"]):
        print(f"{item['pred']!s:>20}  {[round(p, 4) for p in item['probs']]}  {text}")


if __name__ == "__main__":
    main()
