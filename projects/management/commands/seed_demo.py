"""Fills an empty installation with a demo team and two projects, through the services.

Idempotent: whatever already exists (a demo user, a project with a demo slug) is left exactly
as it is, so running the command again changes nothing, and it never overwrites what people
did with the demo afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from prakriya.accounts import services as accounts
from projects import services
from projects.models import DeliverableKind, Project, Rating, Role

DEMO_PASSWORD = "prakriya-demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    affiliation: str
    languages: str
    expertise: str
    what: str  # what they do in the demo, for the printed logins


DEMO_USERS = (
    DemoUser(
        username="lead",
        display_name="Meera Iyer",
        affiliation="District Records Office, digitisation unit",
        languages="English, Hindi, Tamil",
        expertise="Runs the records digitisation programme; fifteen years of data-entry operations "
        "and quality control. Reviews and approves every deliverable.",
        what="lead of both projects: reviews and approves deliverables",
    ),
    DemoUser(
        username="engineer",
        display_name="Arjun Rao",
        affiliation="District Records Office, digitisation unit",
        languages="English, Kannada, Hindi",
        expertise="Machine-learning engineer: image classification with scikit-learn and PyTorch, "
        "ONNX deployment on CPU servers.",
        what="engineer: writes the documents, launches jobs",
    ),
    DemoUser(
        username="annotator1",
        display_name="Fatima Shaikh",
        affiliation="Data-entry team, shift A",
        languages="English, Marathi, Urdu",
        expertise="Senior data-entry operator; keys about 200 survey forms a day and trains new staff "
        "on reading ambiguous handwriting.",
        what="annotator on the digits project",
    ),
    DemoUser(
        username="annotator2",
        display_name="Joseph Mathew",
        affiliation="Data-entry team, shift B",
        languages="English, Malayalam",
        expertise="Data-entry operator and second-pass verifier for the double-entry check.",
        what="annotator on the digits project",
    ),
)

DIGITS_SLUG = "handwritten-digits"
INVOICES_SLUG = "private-invoices"

DIGITS_CHARTER = {
    "problem_statement": """\
The district records office digitises paper survey forms filled in by field workers. Each form has
about **40 numeric boxes** (ages, household size, ration-card numbers, dates), written by hand with
one digit per printed box. Around **12,000 forms** arrive every month and every digit is typed in by
hand twice (double entry), so the backlog of un-digitised forms grows in the busy season and reports
reach the planning department weeks late.

We want the computer to read the boxed digits so that clerks confirm instead of type, and only type
the digits the model is unsure about.""",
    "current_process": """\
1. Forms arrive in bundles of 50 and are scanned at 300 dpi on the office's sheet-fed scanner.
2. A clerk opens the scan next to the data-entry screen and types every numeric box (first entry).
3. A second clerk types the same form again without seeing the first entry (second entry).
4. Where the two entries differ, a supervisor looks at the scan and decides.
5. The form is marked complete and the record goes to the planning database.

A form takes about **3 minutes** per entry. About **0.8%** of digits differ between the two entries
and need a supervisor's look; the residual error after reconciliation is unknown but is believed to
be small.""",
    "ml_role": """\
A digit classifier runs on every boxed digit after scanning (steps 2–3 above change):

- Digits the model is **very confident** about are pre-filled and shown highlighted; the clerk only
  confirms the form. This is the *coverage* in the targets: at 20% coverage the auto-accepted digits
  must be at least 99% precise.
- All other digits are pre-filled as suggestions; the clerk types over the wrong ones.
- The second, blind entry is kept only for digits below the confidence threshold, which is where the
  double-entry time goes today.

The model never writes to the planning database on its own: a person confirms every form.""",
    "value_notes": """\
The value is clerk time and turnaround, not head-count: the same team clears the backlog in the
busy season. Estimates below are per form, measured over one week of first entries (timing logged by
the data-entry software), against what we expect once suggestions and confident auto-fill are in
place. The error-rate estimate is the digit disagreement between first and second entry today.""",
    "feasibility_data": Rating.HIGH,
    "feasibility_data_notes": """\
Two years of scanned forms exist (about 250,000 forms), and the printed boxes make segmentation of
single digits easy. The keyed values are stored with each form, so labels exist for every digit that
both entries agreed on. Until the scans are cleared for use outside the office, the first version is
built on **scikit-learn's bundled digits data set** (1,797 greyscale 8×8 images of the ten digits,
about 180 per class), which has the same task shape at a much lower resolution.""",
    "feasibility_prior_work": Rating.HIGH,
    "feasibility_prior_work_notes": """\
Isolated handwritten digit recognition is a well-studied problem: simple models (logistic regression,
SVMs, small CNNs) reach well above 97% accuracy on standard benchmarks, and confidence thresholds for
selective prediction are standard practice. The risk is not the model but the gap between benchmark
images and our scans (ink, pens, box borders, local ways of writing 1, 4, 7).""",
    "feasibility_team": Rating.MEDIUM,
    "feasibility_team_notes": """\
One machine-learning engineer part-time, two senior data-entry operators who can label and review,
and a lead who owns the data-entry process. The office has CPU servers only (no GPU), which is why
latency and model size are targets. Deployment goes through the office's existing scanning station.""",
}

DIGITS_TARGETS = (
    {"metric": "accuracy", "comparator": ">=", "threshold": 0.97, "unit": "", "condition": "",
     "is_primary": True, "notes": "Per digit, on the held-out test split"},
    {"metric": "latency_p95", "comparator": "<=", "threshold": 50.0, "unit": "ms", "condition": "",
     "is_primary": False, "notes": "Per digit, single request, on the office's CPU server"},
    {"metric": "model_size", "comparator": "<=", "threshold": 20.0, "unit": "MB", "condition": "",
     "is_primary": False, "notes": "The exported ONNX file must fit the scanning station"},
    {"metric": "precision", "comparator": ">=", "threshold": 0.99, "unit": "", "condition": "at 20% coverage",
     "is_primary": False, "notes": "Digits auto-accepted without a clerk looking at them"},
)

DIGITS_VALUE = (
    {"quantity": "Clerk minutes per form", "current": 6.0, "expected": 2.5, "unit": "min",
     "position": 0},
    {"quantity": "Digits needing a supervisor's look", "current": 0.8, "expected": 0.3, "unit": "%",
     "position": 1},
    {"quantity": "Days from arrival to database (busy season)", "current": 21.0, "expected": 7.0,
     "unit": "days", "position": 2},
)

DIGITS_DATA_DOCUMENT = """\
# Data document (draft)

## How the data was collected

The first version is built on **scikit-learn's bundled digits data set** (`sklearn.datasets.load_digits`):
1,797 greyscale images of the ten digits, 8×8 pixels with 17 grey levels (0–16), about 180 images per
class, taken from the UCI *Optical Recognition of Handwritten Digits* collection. It was collected for
research, not harvested from our forms.

Our own scans (about 250,000 forms, 300 dpi, two years) come later, once the office clears them for use;
the keyed double-entry values give a label for every digit where both entries agreed.

## How representative it is

- Same task shape: one isolated digit per image, ten classes.
- Much lower resolution than our scans, no box borders, no ink or pen variation, writers from another
  country and time. Accuracy on it is an optimistic estimate for our forms.
- Classes are close to balanced; our forms are not (many 0s and 1s in dates and ages).

## What the data means

Each image is one digit; the label is the digit written. There is no "illegible" class in the bundled
set, while our clerks do mark some boxes illegible: the guideline must say what to do with them.

## Labelling process and guideline

*To write:* two annotators per item, adjudication by the lead, guideline with examples of ambiguous
1/7 and 4/9.

## Assessment of quality and quantity

*To write after the data-understanding report.*
"""

INVOICES_CHARTER = {
    "problem_statement": "Supplier invoices arrive as scanned PDFs; the accounts team types the invoice "
    "number, date, supplier tax id and total into the ledger by hand.",
    "current_process": "An accounts clerk opens each PDF, finds the four fields and types them. About "
    "1,500 invoices a month; mistakes are found at reconciliation weeks later.",
    "ml_role": "Extract the four fields and pre-fill the ledger form; the clerk checks and saves.",
    "value_notes": "Early idea: not yet estimated. Kept private because invoices name suppliers and amounts.",
}


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, password, what they do) for the demo users whose password is still the demo
    one, so a start-up banner never advertises a login that no longer works."""
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=[d.username for d in DEMO_USERS])}
    return [
        (spec.username, DEMO_PASSWORD, spec.what)
        for spec in DEMO_USERS
        if spec.username in users and users[spec.username].check_password(DEMO_PASSWORD)
    ]


class Command(BaseCommand):
    help = "Create the demo users and projects (safe to run again: existing objects are left alone)."

    # Read by `manage.py serve` to print the logins it can offer.
    demo_logins = staticmethod(demo_logins)

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            users = {spec.username: self._user(spec) for spec in DEMO_USERS}
            self._digits_project(users)
            self._invoices_project(users)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec.username:<11} {spec.what}")

    def _user(self, spec: DemoUser):
        User = get_user_model()
        existing = User.objects.filter(username=spec.username).first()
        if existing is not None:
            self.stdout.write(f"User {spec.username} exists; left as it is.")
            return existing
        user = accounts.user_sign_up(
            username=spec.username, email=f"{spec.username}@demo.prakriya.invalid",
            password=DEMO_PASSWORD, display_name=spec.display_name,
        )
        accounts.profile_update(
            user=user, display_name=spec.display_name, affiliation=spec.affiliation,
            languages=spec.languages, expertise=spec.expertise,
        )
        self.stdout.write(self.style.SUCCESS(f"Created user {spec.username}"))
        return user

    def _digits_project(self, users: dict) -> None:
        if Project.objects.filter(slug=DIGITS_SLUG).exists():
            self.stdout.write(f"Project {DIGITS_SLUG} exists; left as it is.")
            return
        lead, engineer = users["lead"], users["engineer"]
        project = services.project_create(
            by_operator=True, creator=lead, slug=DIGITS_SLUG, title="Handwritten digit recognition",
            summary="Read the handwritten digits on paper survey forms so clerks confirm instead of type.",
            visibility="public", tags=["vision", "digits", "demo"],
        )
        services.membership_set(project=project, actor=lead, user=engineer, role=Role.ENGINEER)
        for name in ("annotator1", "annotator2"):
            services.membership_set(project=project, actor=lead, user=users[name], role=Role.ANNOTATOR)

        # The engineer drafts the charter, the lead reviews it: the history reads like a real one.
        services.project_update_charter(
            project=project, actor=engineer, summary_of_change="First full draft of the project page",
            **DIGITS_CHARTER,
        )
        for fields in DIGITS_TARGETS:
            services.target_save(project=project, actor=engineer, **fields)
        for fields in DIGITS_VALUE:
            services.value_estimate_save(project=project, actor=engineer, **fields)

        page = project.deliverables.get(kind=DeliverableKind.PROJECT_PAGE)
        services.deliverable_transition(deliverable=page, actor=engineer, action="submit")
        services.deliverable_transition(
            deliverable=page, actor=lead, action="approve",
            comment="Clear problem and honest feasibility notes. Approved; start on the data document.",
        )

        data_document = project.deliverables.get(kind=DeliverableKind.DATA_DOCUMENT)
        services.deliverable_save_body(deliverable=data_document, actor=engineer, body=DIGITS_DATA_DOCUMENT)
        self.stdout.write(self.style.SUCCESS(f"Created project {DIGITS_SLUG}"))

    def _invoices_project(self, users: dict) -> None:
        if Project.objects.filter(slug=INVOICES_SLUG).exists():
            self.stdout.write(f"Project {INVOICES_SLUG} exists; left as it is.")
            return
        lead = users["lead"]
        project = services.project_create(
            by_operator=True, creator=lead, slug=INVOICES_SLUG, title="Invoice field extraction",
            summary="Pre-fill the ledger from scanned supplier invoices.",
            visibility="private", tags=["documents", "demo"],
        )
        services.membership_set(project=project, actor=lead, user=users["engineer"], role=Role.ENGINEER)
        services.project_update_charter(
            project=project, actor=lead, summary_of_change="Initial notes", **INVOICES_CHARTER,
        )
        self.stdout.write(self.style.SUCCESS(f"Created project {INVOICES_SLUG}"))
