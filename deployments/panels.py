"""What the deployments app adds to the pages of deliverables 7 and 8 (registered in apps.py):

- the deployment's evidence panel: ready exports with their parity, benchmarks against the
  targets, each deployment's rollout;
- the experience report's key-numbers panel, its draft (the six sections under the project's
  timeline and key numbers, each number linked to its source) and its submit check: a report is
  written about a deployed project, so it is submitted once the deployment is approved, with every
  section written.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from deployments import report
from projects import selectors as project_selectors
from projects.models import DeliverableKind, DeliverableState, Project

SECTIONS = (
    "What worked",
    "What did not",
    "Data lessons",
    "Modelling lessons",
    "Deployment lessons",
    "What we would do differently",
)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# The Markdown punctuation that turns text in the middle of a line into markup: code, emphasis,
# a link or an autolink, a table cell, strikethrough.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~])")


def experience_report_panel(request, project: Project) -> str:
    numbers = report.key_numbers(user=request.user, project=project)
    return render_to_string(
        "deployments/_report_panel.html",
        {"project": project, "numbers": numbers, "sections": SECTIONS},
        request=request,
    )


def deployment_panel(request, project: Project) -> str:
    evidence = report.deployment_evidence(user=request.user, project=project)
    return render_to_string(
        "deployments/_deployment_panel.html", {"project": project, "evidence": evidence}, request=request
    )


# --- The draft -----------------------------------------------------------------------------------


def _text(value: str) -> str:
    """A name as literal Markdown text (a dataset called "[x](y)" stays those characters)."""
    return _MARKUP.sub(r"\\\1", " ".join(str(value).split()))


def _linked(number: report.Number) -> str:
    value = _text(number.value)
    return f"[{value}]({number.url})" if number.url else value


def report_draft(*, user, project: Project) -> str:
    """The experience report's first text: its title, the project's timeline, the key numbers as
    `user` may read them (each linked to its page), and the six sections to write."""
    numbers = report.key_numbers(user=user, project=project)
    lines = [f"# Experience report: {_text(project.title)}", "", "## Timeline", ""]
    lines += [f"- {when:%Y-%m-%d}: {_text(what)}" for when, what in report.milestones(project=project)]
    lines += ["", "## Key numbers", "", "| | | Number | Source |", "|---|---|---|---|"]
    for heading, number in numbers.rows():
        lines.append(f"| {heading} | {_text(number.label)} | {_linked(number)} | {_text(number.source)} |")
    for row in numbers.deployments:
        name = f"[{_text(row.name)}]({row.url})" if row.url else _text(row.name)
        serving = f"stable {_text(row.stable)}"
        if row.canary:
            serving += f", canary {_text(row.canary)} at {row.canary_percent}%"
        if row.predictions is not None:
            serving += f", {row.predictions} predictions logged"
        lines.append(f"| Deployment | {name} | {serving} | revision {row.revision} |")
    if not numbers.rows() and not numbers.deployments:
        lines.append("| | Nothing measured yet | | |")
    lines.append("")
    lines.append(f"Runs are compared on {numbers.metric}; drift is reported on each deployment's page.")
    for section in SECTIONS:
        lines += ["", f"## {section}", ""]
    return "\n".join(lines) + "\n"


def experience_report_draft(request, project: Project) -> str:
    return report_draft(user=request.user, project=project)


# --- The submit check ------------------------------------------------------------------------


def sections_of(body: str) -> dict[str, str]:
    """Each heading's text (the lines up to the next heading), by heading in lower case."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            current = sections.setdefault(match.group(2).strip().rstrip(":").casefold(), [])
        elif current is not None:
            current.append(line)
    return {heading: "\n".join(text).strip() for heading, text in sections.items()}


def experience_report_ready_check(deliverable) -> None:
    """Submit check of the experience report."""
    project = deliverable.project
    deployment = project_selectors.deliverable_state(project=project, kind=DeliverableKind.DEPLOYMENT)
    if deployment != DeliverableState.APPROVED:
        raise ValidationError(
            "The experience report can be submitted once the deployment deliverable is approved: "
            "it reports on a deployed project (the deployment is "
            f"{DeliverableState(deployment).label.lower()})."
        )
    written = sections_of(deliverable.body)
    missing = [section for section in SECTIONS if not written.get(section.casefold())]
    if missing:
        raise ValidationError(
            "Write every section of the experience report before submitting it; still empty or "
            f"missing: {', '.join(missing)}."
        )
