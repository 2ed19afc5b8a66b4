"""Who signs a report: company name, CNPJ, address, logo and signature block.

A :class:`Brand` is given to the audit's PDF (``audit.to_pdf(..., brand=)``), as
an object or as a small config file (TOML or JSON, keys = the field names)::

    company = "Mídia Indoor Ltda."
    cnpj = "12.345.678/0001-90"
    address = "Av. Paulista, 1000 — São Paulo/SP"
    logo = "logo.png"          # relative to this file's folder
    city = "São Paulo"
    signature = "Maria Souza\\nGerente de operações"
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["Brand"]

_LOGO_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Brand:
    """The company block of a report; every field is optional.

    Parameters
    ----------
    company
        The company's name, printed at the top of the first page and in every footer.
    cnpj
        Its CNPJ, as it should be printed (``"12.345.678/0001-90"``).
    address
        One or more lines (``"\\n"`` between them).
    logo
        A PNG or JPEG image, drawn at the top left of the first page (aspect kept).
    signature
        The signature block: the lines printed under the line to sign on
        (name, role...); ``""`` prints no signature block.
    city
        Printed with the issue date above the signature line (``"São Paulo, 31/03/2024"``).

    Examples
    --------
    >>> Brand(company="Mídia Indoor Ltda.", cnpj="12.345.678/0001-90").company
    'Mídia Indoor Ltda.'
    >>> Brand(logo="missing.png")
    Traceback (most recent call last):
    ...
    ValueError: brand: logo 'missing.png' is not a file
    """

    company: str = ""
    cnpj: str = ""
    address: str = ""
    logo: Path | None = None
    signature: str = ""
    city: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "logo":
                continue
            if not isinstance(value, str):
                raise ValueError(f"brand: {f.name} must be text, got {type(value).__name__}")
        if self.logo is not None:
            logo = Path(self.logo)
            if not logo.is_file():
                raise ValueError(f"brand: logo {str(self.logo)!r} is not a file")
            if logo.suffix.lower() not in _LOGO_SUFFIXES:
                raise ValueError(f"brand: logo {logo.name!r} must be a .png or .jpg image")
            object.__setattr__(self, "logo", logo)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Brand:
        """Read a brand from a ``.toml`` or ``.json`` file (keys = the field names).

        A relative ``logo`` is taken relative to the file's folder. An unknown key,
        a value that is not text or a missing logo is a ``ValueError`` naming the file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     config = pathlib.Path(tmp) / "brand.toml"
        ...     _ = config.write_text('company = "ACME"\\ncnpj = "12.345.678/0001-90"\\n')
        ...     Brand.from_file(config).cnpj
        '12.345.678/0001-90'
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"brand: cannot read {str(path)!r}: {exc.strerror}") from exc
        suffix = path.suffix.lower()
        try:
            if suffix == ".toml":
                data: Any = tomllib.loads(raw.decode("utf-8"))
            elif suffix == ".json":
                data = json.loads(raw.decode("utf-8"))
            else:
                raise ValueError(f"brand: expected a .toml or .json file, got {path.name!r}")
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            kind = suffix[1:].upper()
            raise ValueError(f"brand: {path.name} is not valid {kind}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"brand: {path.name} must hold keys and values")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"brand: {path.name}: unknown key(s) {unknown}; expected {sorted(known)}"
            )
        if data.get("logo"):
            data["logo"] = path.parent / str(data["logo"])
        else:
            data.pop("logo", None)
        try:
            return cls(**data)
        except ValueError as exc:
            raise ValueError(f"{exc} (in {path})") from exc

    @classmethod
    def coerce(cls, value: Brand | str | os.PathLike[str] | None) -> Brand:
        """A :class:`Brand` from a brand, a config file's path, or ``None`` (no brand).

        Examples
        --------
        >>> Brand.coerce(None) == Brand()
        True
        """
        if value is None:
            return cls()
        if isinstance(value, Brand):
            return value
        if isinstance(value, str | os.PathLike):
            return cls.from_file(value)
        raise ValueError(f"brand: expected a Brand or a config file, got {type(value).__name__}")
