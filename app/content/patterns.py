"""Regular expressions shared by the log scanner and the entity extractor."""

import re

ERROR_CODE = re.compile(
    r"(?<![A-Za-z0-9_-])(?:ERR(?:OR)?[-_]?\d{2,6}|E\d{3,5}|0x[89A-Fa-f][0-9A-Fa-f]{7})(?![A-Za-z0-9_-])"
)
HTTP_STATUS_LINE = re.compile(r"\bHTTP/\d(?:\.\d)?\s+(\d{3})(?:\s+([A-Za-z][A-Za-z \-']{0,40}[A-Za-z]))?")
ACCESS_LOG = re.compile(r'"([A-Z]{3,7}) (\S+) HTTP/\d(?:\.\d)?" (\d{3})\b')
