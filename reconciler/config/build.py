"""Turn a validated clinic document into the frozen desired-state model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.config.yamlsource import YamlDocument
from reconciler.emr.registry import emr
from reconciler.model import Clinic, SourceLocation


def build_clinic(doc: YamlDocument, file_path: Path) -> Clinic:
    """The clinic; its EMR's package builds the ``spec``."""
    data: dict[str, Any] = doc.data
    kind = data["emr"]["kind"]
    return Clinic(
        id=data["clinic"]["id"],
        name=data["clinic"]["name"],
        emr=kind,
        spec=emr(kind).build(data, file_path.parent),
        source=SourceLocation(doc.path, doc.position(("clinic", "id")).line),
        document=data,
        lines={path: pos.line for path, pos in doc.values.items()},
    )
