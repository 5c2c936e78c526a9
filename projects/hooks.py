"""Extension points for the apps of later stages, which depend on projects (never the reverse).

A stage's app registers, in its AppConfig.ready:
- a submit check for its deliverable kind: called before the deliverable may be submitted,
  raising ValidationError with what is missing;
- a deliverable panel: renders the structured part of the deliverable (e.g. the datasheets of
  the data document) on the deliverable's page;
- a draft: the Markdown an empty deliverable's editor starts from (e.g. the experience report's
  sections and the project's key numbers), offered to whoever may edit it and saved only when they
  save it;
- a version source: the versions a deliverable's numbers come from (dataset versions and their
  commits, the runs' dataset, label and code versions), frozen with an approval
  (projects.evidence);
- a home section: what waits for a person in that app (their labelling queues, evaluations to
  approve), shown on their home page (projects/home.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

SubmitCheck = Callable[[Any], None]  # receives the Deliverable
Panel = Callable[[Any, Any], str]  # receives (request, project); returns safe HTML
Draft = Callable[[Any, Any], str]  # receives (request, project); returns Markdown

_submit_checks: dict[str, list[SubmitCheck]] = defaultdict(list)
_panels: dict[str, list[Panel]] = defaultdict(list)
_drafts: dict[str, Draft] = {}


def register_submit_check(kind: str, check: SubmitCheck) -> None:
    if check not in _submit_checks[kind]:
        _submit_checks[kind].append(check)


def submit_checks(kind: str) -> list[SubmitCheck]:
    return list(_submit_checks.get(kind, []))


def register_panel(kind: str, panel: Panel) -> None:
    if panel not in _panels[kind]:
        _panels[kind].append(panel)


def panels(kind: str) -> list[Panel]:
    return list(_panels.get(kind, []))


def register_draft(kind: str, draft: Draft) -> None:
    _drafts[kind] = draft


def draft_for(kind: str) -> Draft | None:
    return _drafts.get(kind)


# --- The home page --------------------------------------------------------------------------------
# Each app that holds someone's work registers a section: called with the signed-in user, it
# returns a projects.home.HomeSection (or None when it has nothing to say to that user).
HomeSectionSource = Callable[[Any], Any]
_home_sections: list[HomeSectionSource] = []


def register_home_section(source: HomeSectionSource) -> None:
    if source not in _home_sections:
        _home_sections.append(source)


def home_sections() -> list[HomeSectionSource]:
    return list(_home_sections)


# --- Versions behind a deliverable's evidence --------------------------------------------------
# Called with (project, deliverable); returns {what: version}, e.g. {"dataset digits": "v3 · 1a2b…"}.
VersionSource = Callable[[Any, Any], dict[str, str]]
_version_sources: list[VersionSource] = []


def register_versions(source: VersionSource) -> None:
    if source not in _version_sources:
        _version_sources.append(source)


def version_sources() -> list[VersionSource]:
    return list(_version_sources)
