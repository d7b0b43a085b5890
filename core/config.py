"""Where CopyLift keeps its files and which model it uses.

Settings come, in order of precedence, from environment variables
(``COPYLIFT_DB``, ``COPYLIFT_DATA_DIR``, ``COPYLIFT_MODEL``), then from
``.streamlit/secrets.toml`` (keys ``db_path``, ``data_dir``, ``model``), then
from defaults. The secrets file is read with ``tomllib`` so that ``core`` does
not depend on Streamlit.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "sample_data"


@dataclass(frozen=True)
class AppConfig:
    """Resolved paths and names for one process."""

    data_dir: Path
    db_path: str
    model: str | None
    upload_limit_mb: int = 200
    # Import torch + transformers in the background when the app starts, so the first
    # "Generate" pays only for the model itself (COPYLIFT_WARM_MODEL_RUNTIME=0 turns it off).
    warm_model_runtime: bool = True
    # The shop's name: the SMS sender prefix and the sender in the Copy Lab's previews
    # (COPYLIFT_SHOP_NAME / secrets shop_name); empty = no prefix, previews say "Your shop".
    shop_name: str = ""

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def predictor_dir(self) -> Path:
        return self.data_dir / "predictors"

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "exports"


def _read_secrets(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML ({err}); fix or remove it.") from err


def load_config(root: Path = ROOT, env: dict[str, str] | None = None) -> AppConfig:
    """Resolve the configuration from the environment, the secrets file and defaults."""
    env = dict(os.environ if env is None else env)
    secrets = _read_secrets(root / ".streamlit" / "secrets.toml")
    data_dir = Path(env.get("COPYLIFT_DATA_DIR") or secrets.get("data_dir") or root / "data")
    db_path = env.get("COPYLIFT_DB") or secrets.get("db_path") or str(data_dir / "copylift.duckdb")
    model = env.get("COPYLIFT_MODEL") or secrets.get("model") or None
    limit = env.get("COPYLIFT_UPLOAD_LIMIT_MB") or secrets.get("upload_limit_mb") or 200
    try:
        limit_mb = int(limit)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"upload limit must be a whole number of megabytes, got {limit!r}") from err
    warm = str(env.get("COPYLIFT_WARM_MODEL_RUNTIME") or secrets.get("warm_model_runtime", "1")).strip().lower()
    shop = " ".join(str(env.get("COPYLIFT_SHOP_NAME") or secrets.get("shop_name") or "").split())[:40]
    return AppConfig(data_dir=data_dir, db_path=str(db_path), model=model, upload_limit_mb=limit_mb,
                     warm_model_runtime=warm not in ("0", "false", "no", "off"), shop_name=shop)
