"""`sabai content check`: string files parse, every language has every string, HTML is sound."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.core.i18n import LANGUAGES, STRINGS_DIR, Catalog, ContentError, placeholders

# Telegram refuses longer messages; a string that alone is this long can never be sent.
MAX_MESSAGE = 4096
# Complete languages: every string must exist in each; others fall back to them.
COMPLETE = ("bn", "en")


@dataclass(frozen=True)
class Finding:
    path: Path
    key: str
    message: str
    error: bool

    def __str__(self) -> str:
        kind = "error" if self.error else "warning"
        return f"{self.path}: {self.key}: {kind}: {self.message}"


def check_strings(folder: Path = STRINGS_DIR) -> list[Finding]:
    """Return every problem found in the UI string files."""
    from bot.devtools.emulator.errors import ApiError
    from bot.devtools.emulator.html_entities import parse_html

    try:
        catalog = Catalog.load(folder)
    except ContentError as exc:
        return [Finding(folder, "-", str(exc), True)]
    findings: list[Finding] = []
    reference = catalog.files["en"]
    all_keys = set().union(*(catalog.files[lang].strings for lang in COMPLETE))
    for lang in LANGUAGES:
        file = catalog.files[lang]
        if not file.reviewed_by:
            findings.append(Finding(file.path, "meta", "no reviewer recorded", False))
        for key in sorted(file.drafts):
            findings.append(Finding(file.path, key, "draft awaiting review (not shown)", False))
        for key in sorted(all_keys - set(file.strings)):
            if lang in COMPLETE:
                findings.append(Finding(file.path, key, "missing translation", True))
        for key, template in file.strings.items():
            if key not in reference.strings and key not in catalog.files["bn"].strings:
                findings.append(Finding(file.path, key, "unknown key (not in bn or en)", True))
                continue
            other = reference.strings.get(key) or catalog.files["bn"].strings[key]
            if placeholders(template) != placeholders(other):
                findings.append(
                    Finding(file.path, key, "placeholders differ from the English string", True)
                )
            if len(template) > MAX_MESSAGE:
                findings.append(Finding(file.path, key, f"longer than {MAX_MESSAGE}", True))
            try:
                parse_html(template.replace("{", "").replace("}", ""))
            except ApiError as exc:
                findings.append(Finding(file.path, key, f"broken HTML: {exc}", True))
    return findings


def check_all(out: TextIO) -> int:
    """Print findings; return 1 when any is an error."""
    findings = check_strings()
    for finding in findings:
        out.write(f"{finding}\n")
    errors = sum(f.error for f in findings)
    warnings = len(findings) - errors
    # Lessons are checked by their own module; its counts join the strings' here.
    from bot.lessons.check import report as report_lessons

    lesson_errors, lesson_warnings = report_lessons(out)
    errors, warnings = errors + lesson_errors, warnings + lesson_warnings
    out.write(f"content check: {errors} errors, {warnings} warnings\n")
    return 1 if errors else 0
