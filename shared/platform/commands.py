"""What every service's commands are made of: validated at the edge, extra fields refused."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# An identifier a person types or a system sends: letters, digits and . _ : -
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                        pattern=r"^[A-Za-z0-9_.:-]+$")]


class Command(BaseModel):
    """An imperative request; a command that does not validate records nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)
