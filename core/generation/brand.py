"""Brand voice profiles: what the copy should and must not say.

A profile is a frozen ``BrandVoice`` saved as JSON in table ``brand_voices``.
The prompt uses the do-say list as guidance; the guardrails enforce the
don't-say phrases, the banned words, the emoji rule and whether hashtags and
links are allowed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from core.errors import NotFoundError, ValidationError
from core.store import Store


def _clean_list(values: object, what: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = values.replace(",", "\n").splitlines()
    try:
        items = [str(v).strip() for v in values]  # type: ignore[union-attr]
    except TypeError as err:
        raise ValidationError(f"brand voice {what} must be a list of phrases") from err
    return tuple(dict.fromkeys(v for v in items if v))


@dataclass(frozen=True)
class BrandVoice:
    """One brand voice profile."""

    name: str = "Default"
    do_say: tuple[str, ...] = field(default_factory=tuple)
    dont_say: tuple[str, ...] = field(default_factory=tuple)
    banned_words: tuple[str, ...] = field(default_factory=tuple)
    emoji_allowed: bool = True
    allow_hashtags: bool = False
    allow_urls: bool = False

    def __post_init__(self) -> None:
        name = str(self.name).strip()
        if not name or len(name) > 60:
            raise ValidationError("a brand voice needs a name of 1-60 characters")
        object.__setattr__(self, "name", name)
        for attr in ("do_say", "dont_say", "banned_words"):
            object.__setattr__(self, attr, _clean_list(getattr(self, attr), attr.replace("_", " ")))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict) -> BrandVoice:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


DEFAULT_VOICE = BrandVoice(
    name="Default",
    do_say=("clear benefit first", "plain, warm words"),
    dont_say=("act now or regret", "cheap"),
    banned_words=("guaranteed", "free money", "miracle"),
    emoji_allowed=True,
)


def save_brand_voice(store: Store, voice: BrandVoice) -> None:
    """Insert or replace a profile by name."""
    store.execute(
        "INSERT OR REPLACE INTO brand_voices (name, profile_json, updated_at) VALUES (?, ?, current_timestamp)",
        [voice.name, json.dumps(voice.to_dict())],
    )


def list_brand_voices(store: Store) -> list[BrandVoice]:
    """Every saved profile, with the default first when none named 'Default' is saved."""
    voices = [BrandVoice.from_dict(json.loads(r[0])) for r in store.rows(
        "SELECT profile_json FROM brand_voices ORDER BY name")]
    if not any(v.name == DEFAULT_VOICE.name for v in voices):
        voices.insert(0, DEFAULT_VOICE)
    return voices


def get_brand_voice(store: Store, name: str) -> BrandVoice:
    for voice in list_brand_voices(store):
        if voice.name == name:
            return voice
    raise NotFoundError(f"no brand voice named {name!r}; save it on the Copy Lab page first")
