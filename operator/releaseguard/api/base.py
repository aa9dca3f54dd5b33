"""Shared pydantic configuration for the ReleaseVerification API.

Python attributes are snake_case; the wire format (YAML, JSON, the CRD) is camelCase.
Spec models forbid unknown fields so that a typo is an error that names the field;
status models ignore them so that an older operator can read a newer status.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,  # field docstrings become descriptions (kubectl explain)
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as the user wrote it: camelCase, defaults the user did not write left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class StatusModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,  # kubectl explain rv.status... too
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
