"""Settings from flags, environment variables (``BLUEGREEN_*``) or ``bluegreen.toml``.

Precedence: command-line flags, then the environment, then the TOML file. Connection strings
are SecretStr: they print as ``**********`` and only dialects read them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bluegreen.errors import ConfigError


class Settings(BaseSettings):
    """Everything a sync needs to know."""

    model_config = SettingsConfigDict(
        env_prefix="BLUEGREEN_", extra="forbid", toml_file="bluegreen.toml"
    )

    blue_url: SecretStr | None = Field(None, description="blue (production) connection string")
    green_url: SecretStr | None = Field(None, description="green (copy) connection string")
    tables: list[str] = Field(default_factory=list, description="tables to sync (default: all)")
    batch_size: int = Field(50_000, ge=1, le=10_000_000, description="rows per read batch")
    interval: float = Field(5.0, gt=0, description="seconds between windows in follow mode")
    time_budget: float | None = Field(None, gt=0, description="seconds a run may keep windowing")
    stream: str = Field("default", min_length=1, max_length=100, description="watermark name")
    mapping: Path | None = Field(None, description="mapping workbook (.xlsx)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def require_urls(self) -> tuple[SecretStr, SecretStr]:
        if self.blue_url is None or self.green_url is None:
            missing = [n for n, v in (("blue", self.blue_url), ("green", self.green_url)) if not v]
            raise ConfigError(
                f"no {' and no '.join(missing)} connection string",
                fix=(
                    "pass --blue/--green, set BLUEGREEN_BLUE_URL/BLUEGREEN_GREEN_URL, "
                    "or write blue_url/green_url in bluegreen.toml"
                ),
            )
        return self.blue_url, self.green_url


def load_settings(config: Path | None = None, **flags: object) -> Settings:
    """Settings with ``flags`` (None means "not given") over env over the TOML file."""
    path = config or Path(os.environ.get("BLUEGREEN_CONFIG", "bluegreen.toml"))
    if config is not None and not config.is_file():
        raise ConfigError(f"config file {config} does not exist", fix="check the --config path")

    class _FromFile(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    given = {k: v for k, v in flags.items() if v is not None and v != [] and v != ()}
    try:
        return _FromFile(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"invalid settings: {problems}",
            fix=f"check the flags, BLUEGREEN_* variables and {path}",
        ) from None
