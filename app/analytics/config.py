"""Loading the SLA configuration: ``resources/sla/default.json`` plus the admin's overrides
in ``<data_dir>/sla.json`` (calendars and team calendars merge by name, policies replace by
priority and organization)."""

from __future__ import annotations

from pathlib import Path

from app.core.sla import SlaConfig, SlaConfigError, load_config_text

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "resources" / "sla" / "default.json"
OVERRIDE_NAME = "sla.json"


def load_sla_config(data_dir: Path | None = None, *,
                    default_path: Path = DEFAULT_PATH) -> SlaConfig:
    """The effective configuration; an invalid file raises :class:`SlaConfigError` naming it."""
    texts = [default_path.read_text(encoding="utf-8")]
    override = Path(data_dir) / OVERRIDE_NAME if data_dir else None
    if override is not None and override.exists():
        texts.append(override.read_text(encoding="utf-8"))
    try:
        return load_config_text(texts)
    except SlaConfigError as exc:
        where = override if override is not None and len(texts) > 1 else default_path
        raise SlaConfigError(f"{where}: {exc}") from None
