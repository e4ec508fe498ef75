"""Reading the YAML files a user gives (scenarios, parameters): small, plain, bounded.

A YAML file is a few settings. Aliases (``&a`` / ``*a``) are refused: nested aliases expand
a kilobyte of text into gigabytes of values, and into error messages of megabytes. A file
over :data:`MAX_BYTES` is refused before parsing. Errors name the file and the line.
"""

from __future__ import annotations

from pathlib import Path

import yaml

#: The largest YAML file read: settings, not data.
MAX_BYTES = 1_000_000


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader without aliases."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            mark = event.start_mark
            raise yaml.YAMLError(
                f"line {mark.line + 1}: YAML aliases (*{event.anchor}) are not accepted; write the values out"
            )
        return super().compose_node(parent, index)


def parse_yaml(text: str, *, what: str = "YAML text"):
    """Parse ``text`` (at most :data:`MAX_BYTES`) without aliases; ValueError with the line on error."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ValueError(f"{what}: larger than {MAX_BYTES:,} bytes; a settings file is a few lines")
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).split())
        raise ValueError(f"{what} is not valid YAML: {message[:500]}") from None


def read_yaml(path, *, what: str = "YAML file"):
    """Read and parse the YAML file ``path`` (see :func:`parse_yaml`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValueError(f"cannot read {what} {path}: larger than {MAX_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_yaml(text, what=f"{what} {path}")
