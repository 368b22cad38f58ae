"""Every string of the dashboard comes from one catalogue per language; a key used
by a page but missing from a catalogue, or a catalogue that lacks a key the other
has, fails here (the browser tests also fail on any key looked up at run time
and not found)."""

from __future__ import annotations

import json
import re
from typing import get_args

import pytest

from hub.api.schemas.alerts import AlertState, Severity
from hub.profiles import load_profiles
from tests.repo import REPO

DASHBOARD = REPO / "hub" / "dashboard"
STATIC = DASHBOARD / "static"
LANGUAGES = ("nb", "en")
# t("key") and t(`key`) with a literal key; data-i18n*="key" in the page
LITERAL = re.compile(r"""\bt\(\s*["'`]([A-Za-z0-9_.]+)["'`]""")
TEMPLATE = re.compile(r"""\bt\(\s*`([A-Za-z0-9_.]+)\$\{""")
ATTRIBUTE = re.compile(r"""data-i18n(?:-label|-placeholder|-title)?="([A-Za-z0-9_.]+)\"""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def sources() -> dict[str, str]:
    files = [*sorted(STATIC.glob("*.js")), DASHBOARD / "index.html", DASHBOARD / "public.html"]
    return {f.name: f.read_text("utf-8") for f in files}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    nb, en = catalogue("nb"), catalogue("en")
    assert sorted(nb.keys() - en.keys()) == [], "keys only in nb.json"
    assert sorted(en.keys() - nb.keys()) == [], "keys only in en.json"
    for key in nb:
        assert set(PLACEHOLDER.findall(nb[key])) == set(PLACEHOLDER.findall(en[key])), key
        assert nb[key].strip() and en[key].strip(), f"{key} is empty"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_a_page_uses_is_in_the_catalogue(lang: str) -> None:
    messages = catalogue(lang)
    used = {
        (name, key)
        for name, text in sources().items()
        for key in LITERAL.findall(text) + ATTRIBUTE.findall(text)
    }
    assert used, "no message keys found: the pattern no longer matches the sources"
    missing = sorted(f"{name}: {key}" for name, key in used if key not in messages)
    assert missing == []


# Keys built at run time (t(`state.${s}`)): each family and the values it takes.
FAMILIES = {
    "state.": ["ok", "alert", "offline", "unknown"],
    "severity.": list(get_args(Severity)),
    "alertState.": list(get_args(AlertState)),
    "range.": ["1h", "24h", "7d", "30d"],
    "title.": ["overview", "device", "alerts", "alert", "health", "near", "air"],
    "aq.": ["low", "moderate", "high", "very_high"],
    "aq.short.": ["low", "moderate", "high", "very_high"],
    "health.": ["device", "district", "status", "age", "battery", "rssi", "snr"],
    "filter.": ["severity", "profile", "district", "assignee"],
    "filter.all.": ["severity", "profile", "district", "assignee"],
    "profile.": sorted(load_profiles(REPO / "device_profiles")),
    "public.aq.": ["low", "moderate", "high", "very_high"],
    "public.pollutant.": ["pm10", "pm25", "no2", "o3"],
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_built_at_run_time_is_in_the_catalogue(lang: str) -> None:
    messages = catalogue(lang)
    built = {prefix for text in sources().values() for prefix in TEMPLATE.findall(text)}
    assert built - FAMILIES.keys() == set(), "a new family of run-time keys: list it here"
    missing = [p + v for p in built for v in FAMILIES[p] if p + v not in messages]
    assert missing == []


def test_every_shipped_metric_is_named_in_both_languages() -> None:
    for profile in load_profiles(REPO / "device_profiles").values():
        for metric in profile.metrics.values():
            assert metric.label is not None, f"{profile.name}.{metric.name} has no label"
            assert metric.label.nb.strip() and metric.label.en.strip()


def test_no_page_writes_text_for_people_outside_the_catalogue() -> None:
    # el("...", {text: "literal words"}) would bypass the catalogue
    for name, text in sources().items():
        if name.endswith(".js"):
            assert not re.search(r"""text:\s*["'][A-Za-zÆØÅæøå]{3,}""", text), name
