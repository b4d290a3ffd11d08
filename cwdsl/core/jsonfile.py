"""Reading a user's JSON file: one function, one wording for every failure."""
from __future__ import annotations

import json
from pathlib import Path

from cwdsl.core.errors import file_error
from cwdsl.core.inputs import input_file

MAX_JSON_BYTES = 512 * 2**20
"""The largest JSON file read (512 MiB: a run record of about a million frames)."""


def read_json_object(path: str | Path, what: str) -> dict:
    """The JSON object in ``path``; an ``InputError`` naming the path and the reason
    (missing, a folder, unreadable, not JSON, not an object) otherwise. ``what`` names the
    kind of file in messages (``"profile"``, ``"trace"``)."""
    file = input_file(path, f"{what} file")  # a FIFO or a device would block or never end
    try:
        with file.open("rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise file_error(path, f"larger than {MAX_JSON_BYTES // 2**20} MiB; not a {what} "
                                   f"file")
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise file_error(path, f"cannot read {what} file: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise file_error(path, f"not valid JSON (line {e.lineno}, column {e.colno}: "
                               f"{e.msg})") from None
    if not isinstance(data, dict):
        raise file_error(path, f"a {what} file holds a JSON object, not a "
                               f"{type(data).__name__}")
    return data
