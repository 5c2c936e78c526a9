"""A deliverable's evidence and its frozen approvals.

The evidence of a stage is what its app shows on the deliverable's page (projects.hooks panels:
datasheets and labelling process, runs and curves, analyses, evaluations, deployments) and, for
the project page, the charter itself. While a deliverable is a draft its page shows that evidence
live. When a lead approves it, `snapshot_freeze` renders the evidence as a project viewer reads it
(policy.ProjectReader: no edit forms, no names only the team may see) and stores it with the
narrative, the versions the numbers came from and a SHA-256 of all of it. The approved page shows
that snapshot; `changes_since` compares it with the evidence rendered now, line by line, so a
reader is told when the live data has moved on since the approval.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max
from django.http import HttpRequest
from django.template.loader import render_to_string

from projects import hooks, policy
from projects.charter import charter_snapshot
from projects.history import FieldDiff, dict_diff
from projects.models import Deliverable, DeliverableKind, DeliverableSnapshot, Project

VERSIONS_TITLE = "Versions"


@dataclass
class Section:
    title: str
    html: str


@dataclass
class Evidence:
    body: str
    sections: list[Section] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def has_charts(self) -> bool:
        return any("data-plotly-for" in section.html for section in self.sections)


def reader_request() -> HttpRequest:
    """The request a snapshot is rendered under: a project viewer, not the approver."""
    request = HttpRequest()
    request.method = "GET"
    request.user = policy.ProjectReader()
    request.META = {"SERVER_NAME": (settings.ALLOWED_HOSTS or ["localhost"])[0].lstrip(".") or "localhost",
                    "SERVER_PORT": "80"}
    return request


class _TextOf(HTMLParser):
    """The visible text of rendered evidence, one block (paragraph, table row, list item, heading)
    per line and a row's cells joined by " | ": what a reader compares. Scripts (a chart's figure
    JSON) and forms are left out; the tables beside every chart carry its numbers."""

    _BLOCKS = {"p", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "caption", "br",
               "div", "section", "table", "blockquote", "pre", "figcaption"}
    _SKIP = {"script", "style", "form", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skipping = 0
        self._cells = 0
        self.first_heading = ""
        self._in_heading = False

    def _end_line(self) -> None:
        text = " ".join("".join(self._line).split())
        if text:
            self.lines.append(text)
        self._line = []
        self._cells = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in ("td", "th"):
            if self._cells:
                self._line.append(" | ")
            self._cells += 1
        elif tag in self._BLOCKS:
            self._end_line()
        if tag in ("h2", "h3") and not self.first_heading:
            self._in_heading = True

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            if self._in_heading and tag in ("h2", "h3"):
                self.first_heading = " ".join("".join(self._line).split())
                self._in_heading = False
            self._end_line()

    def handle_data(self, data):
        if not self._skipping:
            self._line.append(data)

    def close(self):
        super().close()
        self._end_line()


def text_of(fragment: str) -> tuple[str, str]:
    """(first heading, visible text) of an HTML fragment."""
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    return parser.first_heading, "\n".join(parser.lines)


def _charter_section(project: Project) -> tuple[Section, dict[str, str]]:
    snapshot = charter_snapshot(project)
    rendered = render_to_string("projects/_charter_evidence.html", {"project": project, "charter": snapshot})
    text = {name.replace("_", " ").capitalize(): "\n".join(map(str, value)) if isinstance(value, list) else str(value)
            for name, value in snapshot.items()}
    return Section(title="Charter", html=rendered), text


def collect(*, project: Project, deliverable: Deliverable) -> Evidence:
    """The deliverable's evidence as a project viewer reads it now."""
    evidence = Evidence(body=deliverable.body)
    if deliverable.kind == DeliverableKind.PROJECT_PAGE:
        section, text = _charter_section(project)
        evidence.sections.append(section)
        evidence.text.update(text)
    else:
        request = reader_request()
        for index, panel in enumerate(hooks.panels(deliverable.kind), start=1):
            # Panels are content only and name no static file: the page showing them loads the
            # chart scripts (and `make run` seeds the demo's approvals before collecting static files).
            rendered = panel(request, project).strip()
            if not rendered:
                continue
            heading, text = text_of(rendered)
            title = heading or f"Evidence {index}"
            while title in evidence.text:
                title += " (more)"
            evidence.sections.append(Section(title=title, html=rendered))
            evidence.text[title] = text
    for source in hooks.version_sources():
        evidence.versions.update(source(project, deliverable))
    if evidence.versions:
        evidence.text[VERSIONS_TITLE] = "\n".join(f"{what}: {version}" for what, version in evidence.versions.items())
    return evidence


def content_hash(*, kind: str, evidence: Evidence) -> str:
    canonical = json.dumps(
        {"kind": kind, "body": evidence.body, "sections": [[s.title, s.html] for s in evidence.sections],
         "versions": evidence.versions},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def snapshot_freeze(*, deliverable: Deliverable, actor: AbstractBaseUser) -> DeliverableSnapshot:
    """Stores the approved deliverable as it reads now; the caller holds the deliverable's row lock
    (projects.services.deliverable_transition), so two approvals never take one number."""
    evidence = collect(project=deliverable.project, deliverable=deliverable)
    number = (deliverable.snapshots.aggregate(n=Max("number"))["n"] or 0) + 1
    return DeliverableSnapshot.objects.create(
        deliverable=deliverable,
        number=number,
        approved_by=actor,
        body=evidence.body,
        sections=[{"title": s.title, "html": s.html} for s in evidence.sections],
        text=evidence.text,
        versions=evidence.versions,
        content_hash=content_hash(kind=deliverable.kind, evidence=evidence),
    )


def frozen(snapshot: DeliverableSnapshot) -> Evidence:
    return Evidence(
        body=snapshot.body,
        sections=[Section(title=s["title"], html=s["html"]) for s in snapshot.sections],
        text=dict(snapshot.text),
        versions=dict(snapshot.versions),
    )


def changes_since(*, snapshot: DeliverableSnapshot, live: Evidence) -> list[FieldDiff]:
    """What reads differently now than at the approval, section by section (empty: nothing)."""
    return dict_diff(dict(snapshot.text), live.text)


def export_html(*, project: Project, deliverable: Deliverable, evidence: Evidence,
                snapshot: DeliverableSnapshot | None) -> str:
    """One self-contained HTML file: the narrative, the evidence and its charts, with the platform's
    style sheet and, when there are charts, plotly.js inlined, so it opens anywhere offline."""
    from django.contrib.staticfiles import finders

    def static_text(path: str) -> str:
        found = finders.find(path)
        if not found:
            return ""
        with open(found, encoding="utf-8") as handle:
            return handle.read()

    scripts = ""
    if evidence.has_charts:
        # Inside <script>, only "</script" could end the element early; the bundles contain none,
        # but a future one must not be able to.
        scripts = "\n".join(
            "<script>" + static_text(path).replace("</script", "<\\/script") + "</script>"
            for path in ("plotly/plotly.min.js", "js/charts.js")
        )
    return render_to_string(
        "projects/deliverable_export.html",
        {
            "project": project,
            "deliverable": deliverable,
            "evidence": evidence,
            "snapshot": snapshot,
            "style_sheet": static_text("css/prakriya.css"),
            "scripts": scripts,
        },
    )
