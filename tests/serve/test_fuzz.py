"""Property: no client body makes ``/classify`` answer 500, and no 4xx message shows a server path (in-process)."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Text with lone surrogates, NUL and control characters among ordinary letters.
TEXT = st.text(st.one_of(st.characters(categories=["Cs", "Cc", "Zs"]), st.sampled_from("ab<>./\\:%")), max_size=12)
URL = st.one_of(TEXT, st.sampled_from(["a.png", "../a.png", "a\x00.png", "x" * 5000, "/etc/passwd", "file:///a.png",
                                       "data:image/png;base64,AAAA", "data:image/png;base64,!", "data:,x",
                                       "ftp://h/a.png", "<image>"]))
IMAGE_PART = st.builds(lambda url, wrap: {"type": "image_url", "image_url": {"url": url} if wrap else url}, URL,
                       st.booleans())
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool"]),
                                 "content": st.one_of(TEXT, st.lists(st.one_of(
                                     IMAGE_PART, st.builds(lambda t: {"type": "text", "text": t}, TEXT)), max_size=3))})
BODY = st.one_of(
    st.fixed_dictionaries({"input": st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=3))},
                          optional={"images": st.lists(st.lists(URL, max_size=2), max_size=3), "model": TEXT,
                                    "text_pair": TEXT}),
    st.fixed_dictionaries({"messages": st.lists(MESSAGE, min_size=1, max_size=3)}),
)


def test_no_body_gets_a_500_or_shows_a_server_path(client, trained):
    image_dir = trained("vl")[1]["image_dir"]
    c = client("vl", max_inputs=4)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(BODY)
    def check(body):
        resp = c.post("/classify", content=json.dumps(body).encode())  # ensure_ascii: "\ud800" escapes, as sent
        assert resp.status_code < 500, (body, resp.text)
        if resp.status_code >= 400:
            message = resp.json()["error"]["message"]
            assert image_dir not in message and "/tmp/" not in message, (body, message)

    check()
