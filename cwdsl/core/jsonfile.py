"""Reading a user's JSON file: one function, one wording for every failure."""
from __future__ import annotations

import json
from pathlib import Path

from cwdsl.core.errors import file_error


def read_json_object(path: str | Path, what: str) -> dict:
    """The JSON object in ``path``; an ``InputError`` naming the path and the reason
    (missing, a folder, unreadable, not JSON, not an object) otherwise. ``what`` names the
    kind of file in messages (``"profile"``, ``"trace"``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise file_error(path, f"no such {what} file") from None
    except IsADirectoryError:
        raise file_error(path, f"is a directory, not a {what} file") from None
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
