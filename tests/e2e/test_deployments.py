"""The deployment stage in the browser. The lead's path: export the best run from its page, read
its benchmark against the project's targets, deploy, roll it out as a 10% canary, call the endpoint
from the page's example, promote, and publish the experience report, which an anonymous visitor
then finds with the project marked deployed. Beside it, the smaller paths of the deployment page
(roll back, keys), the drift page and the loop back to labelling.

Jobs (export, benchmark, the loop back's version) run in this process between the steps
(job_execute), as a worker would run them; whatever isn't the path under test is made with the
deployments tests' helpers. Set PRAKRIYA_E2E_SHOTS to a folder to keep a screenshot of each page.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from datasets.annotation.models import CampaignItem
from deployments import services
from deployments.export import runtime
from deployments.export.selectors import export_bytes
from deployments.models import (
    Benchmark,
    Deployment,
    DeploymentKey,
    Loopback,
    ModelExport,
    Prediction,
    RolloutAction,
)
from deployments.selectors import key_digest
from deployments.serving import log, rollout
from prakriya.accounts.selectors import user_label
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import DeliverableKind, Project, Target
from tests.deployments.drift_helpers import deployment as drift_deployment
from tests.deployments.drift_helpers import drift_report, log_predictions
from tests.deployments.helpers import MLP, exported, iris_version, trained_run
from tests.deployments.report_helpers import approve_until
from tests.deployments.serving_helpers import benchmarked, expected_probabilities, served_export
from tests.e2e.conftest import VERSION_PAGE, login
from tests.e2e.report_steps import open_report, visitor_reads_the_report, write_and_publish

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("mlflow_backend")]

RENDERED = "id => { const el = document.getElementById(id); return !!(el && el.data && el.querySelector('.main-svg')); }"
SHOTS = os.environ.get("PRAKRIYA_E2E_SHOTS", "")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def messages(page: Page):
    return page.locator("ul.messages .message")


def run_job(job_id: int) -> None:
    assert job_execute(job_id) == JobState.SUCCEEDED, Job.objects.get(pk=job_id).log


def try_it(page: Page) -> dict:
    """Sends the try-it box's JSON as the signed-in member; returns the endpoint's answer."""
    result = page.get_by_test_id("predict-result")
    result.evaluate("el => { el.textContent = ''; }")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(result).to_contain_text(re.compile(r"^200\n"))
    return json.loads(result.text_content().split("\n", 1)[1])


def fits_the_window(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def model_answer(export: ModelExport, rows) -> np.ndarray:
    """The export's class probabilities under ONNX Runtime, as its parity check computes them."""
    return runtime.predict_proba(runtime.session(export_bytes(export=export)), export.input_schema, rows)


def test_the_lead_exports_benchmarks_deploys_a_canary_calls_promotes_and_publishes_the_report(
    new_page, project, lead, engineer
):
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.75, is_primary=True)
    Target.objects.create(project=project, metric="latency_p95", comparator="<=", threshold=1000, unit="ms")
    iris = iris_version(project)
    # The model in service today (exported earlier, never benchmarked) and the best run since.
    first = exported(trained_run(iris, engineer, trainer="mlp", config=MLP, name="mlp 3 epochs"), engineer)
    best = trained_run(iris, engineer, trainer="mlp", config={**MLP, "epochs": 30}, name="mlp 30 epochs")

    page = new_page()
    login(page, "lead", next_path=f"/projects/{project.slug}/runs/")
    # The runs page names the best run by the primary target: the lead follows it.
    page.locator(".best-run").get_by_role("link", name="mlp 30 epochs").click()
    page.wait_for_url(f"**/runs/{best.mlflow_run_id}/")

    # Export: the form on the run's page, then the export's page follows its job.
    form = page.get_by_test_id("export-form")
    expect(form.get_by_label("Quantisation")).to_have_value("none")
    form.get_by_role("button", name="Export to ONNX").click()
    expect(messages(page)).to_have_text(["Export queued: the page follows its job."])
    export = ModelExport.objects.get(run=best)
    page.wait_for_url(f"**/deployments/exports/{export.pk}/")
    expect(page.get_by_test_id("export-state")).to_have_text("Pending")
    run_job(export.job_id)
    # The page polls its job and reloads once it ends: the parity check replaces the waiting.
    expect(page.get_by_test_id("export-state")).to_have_text("Ready")
    expect(page.locator("#job [data-role=state]")).to_have_text("Succeeded")
    expect(page.locator("#job progress[data-role=bar]")).to_have_js_property("value", 100)
    export.refresh_from_db()
    expect(page.locator("[data-parity=agreement]")).to_contain_text("1.0000 (0 differ)")
    expect(page.locator("[data-metric=val_accuracy]")).to_have_text(f"{export.metrics['val_accuracy']:.4f}")
    expect(page.get_by_test_id("model-card")).to_contain_text("mlp 30 epochs")
    shot(page, "export")

    # Benchmark: a short one, from the options page.
    page.get_by_role("link", name="Benchmark options").click()
    page.get_by_label("Batch sizes").fill("1")
    page.get_by_label("Iterations").fill("5")
    page.get_by_label("Warm-up calls").fill("0")
    page.get_by_role("button", name="Run the benchmark").click()
    expect(messages(page)).to_have_text(["Benchmark queued: this page follows its job."])
    benchmark = Benchmark.objects.get(export=export)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Benchmark #{benchmark.pk} of {export}")
    run_job(benchmark.job_id)
    expect(page.get_by_test_id("inside-targets")).to_have_text("Inside the targets")
    targets = page.get_by_test_id("targets")
    expect(targets.locator("[data-target-metric=accuracy] [data-met]")).to_have_text("met")
    expect(targets.locator("[data-target-metric=accuracy]")).to_contain_text(f"{export.metrics['val_accuracy']:.4f}")
    expect(targets.locator("[data-target-metric=latency_p95] [data-met]")).to_have_text("met")
    page.wait_for_function(RENDERED, arg="latency-chart")
    assert page.evaluate("() => document.getElementById('latency-chart').data.length") >= 2  # ONNX and torch
    expect(page.get_by_test_id("machine")).to_contain_text("ONNX Runtime")
    benchmark.refresh_from_db()
    assert benchmark.inside_targets is True and benchmark.options["iterations"] == 5
    shot(page, "benchmark")

    # Deploy the model in service today: without a benchmark only the lead's reason lets it serve all.
    page.goto(f"/projects/{project.slug}/")
    page.locator("nav.project-nav").get_by_role("link", name="Deployments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deployments")
    exports = page.get_by_test_id("exports")
    expect(exports.locator("tbody tr")).to_have_count(2)
    # Parity, validation accuracy, size.
    expect(exports.locator(f"[data-export='{export.pk}'] td.num").nth(1)).to_have_text(
        f"{export.metrics['val_accuracy']:.4f}")
    deploy = page.locator("form", has=page.get_by_role("button", name="Deploy"))
    deploy.get_by_label("Name").fill("Iris API")
    deploy.get_by_label("Export").select_option(str(first.pk))
    deploy.get_by_role("button", name="Deploy").click()
    expect(page.locator(".form-errors")).to_contain_text("cannot serve all traffic: it has no finished benchmark")
    assert not Deployment.objects.exists()
    shot(page, "deployments-list-refused")
    deploy.get_by_label("Override reason").fill("The model in service today, moved here as it is.")
    deploy.get_by_role("button", name="Deploy").click()
    expect(messages(page)).to_have_text([f"Iris API serves {first} to every caller."])
    deployment = Deployment.objects.get(project=project)
    page.wait_for_url(f"**/deployments/{deployment.slug}/")

    # The best run's export as a 10% canary.
    canary = page.locator("form", has=page.get_by_role("button", name="Start canary"))
    canary.get_by_label("Export").select_option(str(export.pk))
    expect(canary.get_by_label("Percent")).to_have_value("10")
    canary.get_by_role("button", name="Start canary").click()
    expect(messages(page)).to_have_text(["Canary started."])
    rollout_table = page.get_by_test_id("rollout")
    expect(rollout_table.locator("[data-share=stable]")).to_have_text("90%")
    expect(rollout_table.locator("[data-share=canary]")).to_have_text("10%")
    expect(rollout_table.locator("[data-version=canary]")).to_contain_text("inside the targets")
    expect(rollout_table.locator("[data-version=stable]")).to_contain_text("not benchmarked")
    deployment.refresh_from_db()
    assert (deployment.stable_id, deployment.canary_id, deployment.canary_percent) == (first.pk, export.pk, 10)

    # The page's example, sent as the lead: a label and score from the version the rollout gives the lead.
    call = page.get_by_test_id("call")
    endpoint = f"/api/projects/{project.slug}/deployments/{deployment.slug}/predict/"
    expect(call.get_by_test_id("endpoint")).to_have_text(re.compile(re.escape(endpoint) + "$"))
    expect(call.get_by_test_id("curl")).to_contain_text("X-Deployment-Key")
    example = json.loads(page.get_by_label("Try it as yourself").input_value())
    assert example == {"inputs": [[0.0, 0.0, 0.0, 0.0]]}
    answer = try_it(page)
    caller = rollout.caller_pseudonym(deployment_id=deployment.pk, kind="user", ident=lead.pk)
    serving = rollout.version_for(deployment=deployment, caller=caller)
    assert answer["version"] == serving.pk and answer["deployment"] == deployment.slug
    expected = model_answer(serving, example["inputs"])[0]
    (prediction,) = answer["predictions"]
    assert prediction["label"] == serving.input_schema["classes"][int(np.argmax(expected))]
    assert prediction["score"] == pytest.approx(float(expected.max()), abs=1e-5)
    assert fits_the_window(page)  # the long curl line scrolls in its box, not the page
    shot(page, "deployment-canary")

    # Promote: the canary's benchmark is inside the targets, so no reason is asked.
    page.get_by_role("button", name="Promote to 100%").click()
    expect(messages(page)).to_have_text(["Promoted: the canary now serves every caller."])
    expect(rollout_table.locator("[data-share=stable]")).to_have_text("100%")
    expect(rollout_table.locator("[data-version=canary]")).to_have_count(0)
    deployment.refresh_from_db()
    assert (deployment.stable_id, deployment.canary_id) == (export.pk, None)
    event = deployment.events.order_by("-id").first()
    assert event.action == RolloutAction.PROMOTE and event.override_reason == "" and event.actor == lead
    history = page.get_by_test_id("rollout-history")
    expect(history.locator("li")).to_have_count(3)
    expect(history).to_contain_text("Benchmark gate overridden: The model in service today")
    # Every caller now gets the promoted version: the same example answered by the best run's export.
    answer = try_it(page)
    assert answer["version"] == export.pk
    expected = model_answer(export, example["inputs"])[0]
    assert answer["predictions"][0]["score"] == pytest.approx(float(expected.max()), abs=1e-5)
    log.buffer.flush()
    page.reload()
    expect(page.get_by_test_id("recent-predictions").locator("tbody tr")).to_have_count(2)
    assert sorted(Prediction.objects.values_list("export_id", flat=True)) == sorted([serving.pk, export.pk])
    shot(page, "deployment-promoted")

    # The experience report closes the project; a visitor finds it deployed.
    approve_until(project, lead, DeliverableKind.DEPLOYMENT)
    open_report(page, project)
    expect(page.get_by_test_id("key-numbers")).to_contain_text("Iris API")
    write_and_publish(page)
    visitor = visitor_reads_the_report(new_page, project)
    shot(visitor, "report-visitor")


def _live(project, lead, *, canary: bool = False) -> Deployment:
    """A deployment of a small digits network, with a 25% canary of another when asked."""
    stable = served_export(project, seed=0)
    benchmarked(stable, inside=True)
    deployment = services.deployment_create(project=project, actor=lead, name="Digits API", export=stable)
    if canary:
        deployment = services.canary_start(deployment=deployment, actor=lead, export=served_export(project, seed=1),
                                           percent=25)
    return deployment


def test_an_engineer_widens_the_canary_then_rolls_it_back_from_the_deployment_page(page, project, lead, engineer):
    deployment = _live(project, lead, canary=True)
    stable, canary = deployment.stable, deployment.canary

    login(page, "engineer", next_path=f"/projects/{project.slug}/deployments/")
    page.get_by_test_id("deployments").get_by_role("link", name="Digits API").click()
    rollout_table = page.get_by_test_id("rollout")
    expect(rollout_table.locator("[data-share=canary]")).to_have_text("25%")
    # Promotion is the lead's: the engineer is told so instead of a form.
    expect(page.get_by_role("button", name="Promote to 100%")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("The lead promotes a canary to 100%.")

    page.get_by_label("Percent").fill("50")
    page.get_by_role("button", name="Set share").click()
    expect(messages(page)).to_have_text(["The canary's share changed."])
    expect(rollout_table.locator("[data-share=stable]")).to_have_text("50%")
    expect(rollout_table.locator("[data-share=canary]")).to_have_text("50%")
    expect(page.get_by_role("progressbar", name="Canary share")).to_have_attribute("value", "50")
    deployment.refresh_from_db()
    assert deployment.canary_percent == 50

    page.get_by_role("button", name="Roll back").click()

    expect(messages(page)).to_have_text(["Rolled back: the stable version serves every caller."])
    expect(rollout_table.locator("[data-share=stable]")).to_have_text("100%")
    expect(rollout_table.locator("[data-version=canary]")).to_have_count(0)
    expect(page.get_by_test_id("rollout-history")).to_contain_text(f"Rolled back by {user_label(engineer)}: stable {stable}")
    # With no canary the side offers to start one again.
    expect(page.get_by_role("heading", name="Start a canary")).to_be_visible()
    deployment.refresh_from_db()
    assert (deployment.stable_id, deployment.canary_id, deployment.canary_percent) == (stable.pk, None, 0)
    assert deployment.events.order_by("-id").first().action == RolloutAction.ROLLBACK
    assert Deployment.objects.filter(canary=canary).count() == 0


def test_a_new_key_is_shown_once_calls_the_endpoint_and_fails_once_revoked(new_page, project, lead):
    deployment = _live(project, lead)
    endpoint = f"/api/projects/{project.slug}/deployments/{deployment.slug}/predict/"
    rows = [[float(v) for v in np.linspace(0, 16, 64)]]

    page = new_page()
    login(page, "lead", next_path=f"/projects/{project.slug}/deployments/{deployment.slug}/")
    keys = page.get_by_test_id("keys")
    keys.get_by_label("Name").fill("forms-service")
    keys.get_by_role("button", name="Create key").click()
    secret = keys.get_by_test_id("new-key").locator("pre").text_content().strip()
    assert secret.startswith("pkd_")
    key = DeploymentKey.objects.get(deployment=deployment)
    assert key.name == "forms-service" and key.digest == key_digest(secret) and secret not in (key.digest, key.prefix)
    assert fits_the_window(page)
    shot(page, "deployment-new-key")

    # Someone with the key and no account calls the endpoint with it.
    caller = new_page().request
    answered = caller.post(endpoint, headers={"X-Deployment-Key": secret}, data={"inputs": rows})
    assert answered.status == 200, answered.text()
    body = answered.json()
    expected = expected_probabilities(0, rows)[0]
    assert body["version"] == deployment.stable_id
    assert body["predictions"][0]["label"] == str(int(np.argmax(expected)))
    assert body["predictions"][0]["score"] == pytest.approx(float(expected.max()), abs=1e-5)

    # Shown once: the page reloaded (no second key) or opened again no longer holds it.
    page.reload()
    assert DeploymentKey.objects.filter(deployment=deployment).count() == 1
    page.goto(f"/projects/{project.slug}/deployments/{deployment.slug}/")
    expect(keys.get_by_test_id("new-key")).to_have_count(0)
    assert secret not in page.content()
    expect(keys.locator("li")).to_have_count(1)
    expect(keys.locator("li")).to_contain_text(str(key))

    keys.get_by_role("button", name="revoke").click()
    expect(messages(page)).to_have_text([f"The key {key} is revoked: calls with it fail from now on."])
    expect(keys.locator("li .badge")).to_have_text("revoked")
    key.refresh_from_db()
    assert key.revoked_at is not None
    refused = caller.post(endpoint, headers={"X-Deployment-Key": secret}, data={"inputs": rows})
    assert refused.status == 401


def test_an_engineer_reads_drift_over_time_from_the_deployment_page(page, project, lead, engineer):
    live = drift_deployment(project)
    drift_report(live, drifted=False, psi=0.05, hours_ago=2)
    drift_report(live, drifted=True, psi=0.9)

    login(page, "engineer", next_path=f"/projects/{project.slug}/deployments/{live.slug}/")
    page.get_by_test_id("drift-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Drift of {live.name}")
    page.wait_for_function(RENDERED, arg="drift-chart")
    # One point per check, oldest first, on every line of the chart.
    lines = page.evaluate("() => document.getElementById('drift-chart').data.map(t => t.y.length)")
    assert lines and set(lines) == {2}
    latest = page.get_by_test_id("latest-check")
    expect(latest.get_by_role("heading")).to_contain_text("Drifted")
    expect(latest.locator("[data-feature=mean]")).to_contain_text("0.900")
    expect(latest.locator("[data-feature=mean] .badge")).to_have_text("drifted")
    expect(page.get_by_test_id("mean-confidence")).to_have_text("0.800")
    expect(page.get_by_role("button", name="Check drift now")).to_be_visible()
    shot(page, "drift")


def test_the_lead_sends_the_least_sure_production_inputs_to_a_labelling_campaign(page, project, lead, annotator):
    Project.objects.filter(pk=project.pk).update(prediction_inputs="store")
    project.refresh_from_db()
    live = drift_deployment(project)
    rng = np.random.default_rng(0)
    scores = [0.91, 0.42, 0.77, 0.35, 0.99]
    logged = log_predictions(live, [rng.integers(0, 256, 64).astype(float) for _ in scores], ["3"] * len(scores),
                             scores)
    least_sure = [p.pk for p in sorted(logged, key=lambda p: p.score)[:3]]

    login(page, "lead", next_path=f"/projects/{project.slug}/deployments/{live.slug}/")
    form = page.get_by_test_id("loopback-form")
    form.get_by_label("Which inputs").select_option("lowest_confidence")
    form.get_by_label("How many inputs").fill("3")
    form.get_by_role("button", name="Send to labelling").click()

    expect(messages(page)).to_have_text([
        "3 production inputs are being written as a new dataset version; their labelling campaign is made as "
        "soon as it is written."])
    loopback = Loopback.objects.get(deployment=live)
    page.wait_for_url(f"**/jobs/{loopback.job_id}/")
    assert loopback.predictions == least_sure
    run_job(loopback.job_id)
    # Written, the job's page goes to the new version by itself.
    page.wait_for_url(VERSION_PAGE)

    page.goto(f"/projects/{project.slug}/deployments/{live.slug}/loopback/")
    row = page.locator(f"[data-loopback='{loopback.pk}']")
    expect(row).to_contain_text("Lowest confidence first")
    expect(row.locator("td.num")).to_have_text("3")
    shot(page, "loopback")
    loopback.refresh_from_db()
    campaign = loopback.campaign
    row.get_by_role("link", name=campaign.name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(campaign.name)
    assert CampaignItem.objects.filter(campaign=campaign).count() == 3
    assert list(campaign.annotators.all()) == [annotator]
