"""`sabai content check`: string files parse, every language has every string, HTML is sound,
and every number, code or web address a resident reads is in the facts registry with a source.

`--content DIR` checks another content tree laid out like `content/` (strings/, lessons/,
facts.toml), so a reviewer can check a draft folder before it replaces the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.core.facts import FACTS_FILE, Registry, load_registry
from bot.core.i18n import (
    LANGUAGES,
    PLURAL_CHANGE,
    STRINGS_DIR,
    Catalog,
    ContentError,
    placeholders,
)

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
            # A language whose nouns do not change with the count uses only the ".other" form.
            if key.endswith(".one") and lang not in PLURAL_CHANGE:
                continue
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


def check_registry(path: Path) -> tuple[Registry, list[str]]:
    """Load the facts registry; return it and its problems as `file:line: error:` lines."""
    registry, problems = load_registry(path)
    return registry, [f"{path}:{line}: error: {message}" for line, message in problems]


def check_string_facts(folder: Path, registry: Registry) -> list[str]:
    """Numbers, codes and web addresses in the string files that the registry does not hold."""
    from bot.lessons.check import fact_problems

    lines = []
    for language in LANGUAGES:
        path = folder / f"{language}.toml"
        if path.exists():
            lines += [str(problem) for problem in fact_problems(path, registry)]
    return lines


def check_all(out: TextIO, content: Path | None = None) -> int:
    """Print findings for the content tree (the project's by default); 1 when any is an error."""
    strings_dir = content / "strings" if content else STRINGS_DIR
    lessons_dir = content / "lessons" if content else STRINGS_DIR.parent / "lessons"
    findings = check_strings(strings_dir)
    for finding in findings:
        out.write(f"{finding}\n")
    errors = sum(f.error for f in findings)
    warnings = len(findings) - errors
    registry, fact_lines = check_registry(strings_dir.parent / FACTS_FILE)
    fact_lines += check_string_facts(strings_dir, registry)
    for line in fact_lines:
        out.write(f"{line}\n")
    errors += len(fact_lines)
    # Lessons are checked by their own module; its counts join the strings' here.
    from bot.lessons.check import report as report_lessons

    try:
        catalog: Catalog | None = Catalog.load(strings_dir)
    except ContentError:
        catalog = None
    lesson_errors, lesson_warnings = report_lessons(out, lessons_dir, catalog, registry)
    errors, warnings = errors + lesson_errors, warnings + lesson_warnings
    out.write(f"content check: {errors} errors, {warnings} warnings\n")
    return 1 if errors else 0
