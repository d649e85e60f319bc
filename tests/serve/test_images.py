"""``swiftcls deploy`` with an image+text model: image URLs by path, inline and remote, under the server's rules."""

import base64
from pathlib import Path

import numpy as np

from swiftcls.data.dataset import Example
from swiftcls.metrics.classification import logits_to_probs


def _png_bytes(path):
    return base64.b64encode(Path(path).read_bytes()).decode()


def test_vl_images_inline_paths_traversal_and_remote(trained, client, tmp_path):
    _, kw = trained("vl")
    c = client("vl")
    image_dir = Path(kw["image_dir"])
    clf = c.app.state.service.clf
    resp = c.post("/classify", json={"input": ["<image> look 0", "<image> look 1"], "images": [["a.png"], ["b.png"]]})
    assert resp.status_code == 200, resp.text
    rows = clf.encode([Example("<image> look 0", images=[str(image_dir / "a.png")], file="x"),
                       Example("<image> look 1", images=[str(image_dir / "b.png")], file="x")])
    direct = logits_to_probs(clf.logits_rows(rows), clf.problem_type)
    np.testing.assert_allclose([d["probs"] for d in resp.json()["data"]], direct, atol=1e-5)
    assert not np.allclose(direct[0], direct[1])  # the image reaches the classifier
    for image_url in ({"url": f"data:image/png;base64,{_png_bytes(image_dir / 'a.png')}"},
                      f"data:image/png;base64,{_png_bytes(image_dir / 'a.png')}", {"url": "a.png"}):
        chat = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": image_url},
                                                          {"type": "text", "text": " look 0"}]}]}
        resp = c.post("/classify", json=chat)  # vLLM's chat form, inline or by path
        assert resp.status_code == 200 and np.allclose(resp.json()["data"][0]["probs"], direct[0], atol=1e-5)
    secret = tmp_path / "secret.png"
    secret.write_bytes((image_dir / "a.png").read_bytes())
    for url in ("../../secret.png", str(secret), f"file://{secret}", "../" * 20 + "etc/passwd"):
        resp = c.post("/classify", json={"input": "<image> x", "images": [[url]]})
        assert resp.status_code == 403 and "outside" in resp.json()["error"]["message"], (url, resp.text)
    (image_dir / "link.png").symlink_to(secret)  # a symlink out of the folder is refused too
    assert c.post("/classify", json={"input": "<image> x", "images": [["link.png"]]}).status_code == 403
    resp = c.post("/classify", json={"input": "<image> x", "images": [["http://127.0.0.1:9/a.png"]]})
    assert resp.status_code == 403 and "--allow_remote_images" in resp.json()["error"]["message"]
    assert c.post("/classify", json={"input": "<image> x", "images": [["missing.png"]]}).status_code == 422
    (image_dir / "bad.png").write_bytes(b"not an image")
    resp = c.post("/classify", json={"input": "<image> x", "images": [["bad.png"]]})
    assert resp.status_code == 422 and "cannot read image" in resp.json()["error"]["message"]
    resp = c.post("/classify", json={"input": "<image> x", "images": [["data:image/png,abc"]]})
    assert resp.status_code == 422 and "base64" in resp.json()["error"]["message"]
    # Without --image_dir, paths are refused and inline images still work.
    inline_only = client("vl", image_dir=None)
    resp = inline_only.post("/classify", json={"input": "<image> x", "images": [["a.png"]]})
    assert resp.status_code == 403 and "--image_dir" in resp.json()["error"]["message"]
    resp = inline_only.post("/classify", json={"input": "<image> look 0", "images": [
        [f"data:image/png;base64,{_png_bytes(image_dir / 'a.png')}"]]})
    assert resp.status_code == 200 and np.allclose(resp.json()["data"][0]["probs"], direct[0], atol=1e-5)
