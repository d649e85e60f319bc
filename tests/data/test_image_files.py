"""Image rows that must be row errors, not tracebacks."""

import pytest
from helpers import write_png_bomb

from swiftcls.core.errors import DataError
from swiftcls.data.images import open_image


def test_a_decompression_bomb_is_a_row_error(tmp_path):
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 100_000
    with pytest.raises(DataError, match="too large to decode safely") as err:
        open_image(bomb, {"file": "d.jsonl", "row": 3})
    assert (err.value.file, err.value.row, err.value.field) == ("d.jsonl", 3, "images")
    assert "--skip_bad_rows" in str(err.value)
