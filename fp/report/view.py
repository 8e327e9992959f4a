"""What the report page shows, as display rows: evidence fields turned into the words, times and
units an analyst reads (the template only lays them out)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from fp.config import FINGERPRINT, INDEX, MATCH, Config

MODALITY_NAMES = {"visual": "picture", "audio": "soundtrack", "text": "subtitles"}
"""How the page names each modality."""

CONFIG_GROUPS = {FINGERPRINT: "Fingerprint settings", INDEX: "Index structure", MATCH: "Match thresholds"}
"""How the page names each group of `fp.config.Config`'s settings."""
OTHER_SETTINGS = "Other settings"
"""The group of recorded settings this release does not know (a run or index of another version)."""

DURATION_MISMATCH = 0.5
"""A video stream this many seconds shorter or longer than its container is listed apart."""


def clock(seconds: float) -> str:
    """1:02:03.5 / 2:03.5 style timestamps."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"


def short_clock(seconds: float) -> str:
    """0:09 / 1:02:03 on whole seconds, 0:09.5 otherwise."""
    seconds = max(0.0, round(seconds, 1))
    if seconds != int(seconds):
        return clock(seconds)
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def hms(seconds: float) -> str:
    """h:mm:ss, rounded to the second."""
    minutes, secs = divmod(int(round(max(0.0, seconds))), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def when(iso: str | None) -> str | None:
    """An ISO timestamp as `2024-05-01 12:00:00 UTC` (naive ones are UTC, as fp stores them)."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def span(start: float, end: float) -> str:
    return f"{short_clock(start)}\u2013{short_clock(end)}"


def number(value) -> str:
    """A setting's value as text: thousands separated, floats without trailing zeros."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return "off" if value == "" else str(value)


def config_groups(config: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """The index's configuration in the groups the page shows (`Config`'s own: fingerprint
    settings, index structure, match thresholds), each in `Config`'s field order."""
    known = {f.name: f.metadata["group"] for f in dataclasses.fields(Config)}
    order = list(known)
    names = sorted(config, key=lambda k: (order.index(k) if k in known else len(order), k))
    groups = [(label, [k for k in names if known.get(k) == group]) for group, label in CONFIG_GROUPS.items()]
    groups.append((OTHER_SETTINGS, [k for k in names if k not in known]))
    return [(label, [(k.replace("_", " "), number(config[k])) for k in keys]) for label, keys in groups if keys]


def file_size(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.1f} MB ({size_bytes:,} bytes)"


def probe_rows(probe: dict) -> list[tuple[str, str]]:
    """The suspect's probe data as human fields; nothing absent or repeated."""
    rows = [("duration", f"{hms(probe['duration'])} ({probe['duration']:.2f} s)")]
    video_duration = probe.get("video_duration") or 0.0
    if video_duration and abs(video_duration - probe["duration"]) > DURATION_MISMATCH:
        rows.append(("video stream duration", f"{hms(video_duration)} ({video_duration:.2f} s)"))
    width, height = probe.get("width") or 0, probe.get("height") or 0
    if width and height:
        resolution = f"{width} \u00d7 {height}"
        if probe.get("rotation"):
            resolution += f", shown rotated {probe['rotation']}\u00b0"
        if probe.get("sample_aspect_ratio") not in (None, "", "1:1", "0:1", "N/A"):
            resolution += f", pixel aspect {probe['sample_aspect_ratio']}"
        rows.append(("resolution", resolution))
    if probe.get("fps"):
        rate = f"{probe['fps']:.3f}".rstrip("0").rstrip(".")
        rows.append(("frame rate", f"{rate} fps" + (" (variable)" if probe.get("variable_frame_rate") else "")))
    rows += [(label, probe[key]) for label, key in (("video codec", "video_codec"), ("audio codec", "audio_codec"),
                                                     ("container", "format_name")) if probe.get(key)]
    streams = [f"{kind} #{probe[key]}" for kind, key in (("video", "video_stream"), ("audio", "audio_stream"))
               if probe.get(key) is not None]
    streams += [f"subtitles #{index}" for index in probe.get("subtitle_streams") or ()]
    if streams:
        rows.append(("streams", ", ".join(streams)))
    if probe.get("size_bytes"):
        rows.append(("size", file_size(probe["size_bytes"])))
    return rows


def policy_rows(policy: list[dict]) -> list[dict]:
    """The policy's rules, in the order they are tried."""
    return [{"verdict": rule["verdict"].replace("_", " "),
             "min_seconds": number(float(rule.get("min_seconds", 0.0))),
             "min_suspect_percent": number(float(rule.get("min_suspect_percent", 0.0))),
             "min_reference_percent": number(float(rule.get("min_reference_percent", 0.0))),
             "modality": MODALITY_NAMES.get(rule.get("modality", "any"), "any")} for rule in policy]


def modality_means(segments: list[dict]) -> dict[str, float]:
    """Each modality's mean similarity over the segments, weighted by their length."""
    out = {}
    for modality in MODALITY_NAMES:
        weighted = [(m["modalities"][modality], m["query_end"] - m["query_start"]) for m in segments
                    if m["modalities"].get(modality) is not None]
        total = sum(w for _, w in weighted)
        if weighted and total > 0:
            out[modality] = sum(v * w for v, w in weighted) / total
    return out


def title_summary(title: dict, segments: list[dict]) -> str:
    """"12.0 s of the suspect (40 %) matches 0:09–0:21 of car_detection.mp4, picture 0.71"."""
    ranges = ", ".join(span(m["ref_start"], m["ref_end"]) for m in sorted(segments, key=lambda m: m["query_start"]))
    scores = ", ".join(f"{MODALITY_NAMES[k]} {v:.2f}" for k, v in modality_means(segments).items())
    return (f"{title['matched_seconds']:.1f} s of the suspect ({title['suspect_percent']:.0f} %) matches "
            f"{ranges or 'nothing'} of {title['title_id']}" + (f", {scores}" if scores else ""))
