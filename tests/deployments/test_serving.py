"""Serving a deployment: the prediction endpoint's answers, its bad-input errors, who may call it
(keys scoped to their deployment, revocation at once, personal tokens by role), the staged
rollout (split, stickiness, promote, rollback, the 100% gate) and the prediction log under each
privacy setting."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from deployments import services
from deployments.models import Deployment, Prediction, RolloutAction
from deployments.serving import log, rollout
from projects.models import PredictionInputs, TimelineEvent
from tests.deployments.serving_helpers import benchmarked, expected_probabilities, served_export
from tests.matrix import recorded
from tests.wsgi_client import LayeredAPIClient

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = np.random.default_rng(0).uniform(0, 16, size=(3, 64)).round(2).tolist()


@pytest.fixture(autouse=True)
def _routes_read_for_every_request(settings):
    # These tests check what the next request sees after a rollout action or a revocation; how
    # long a web process may keep a key's route is tested in test_predict_fast_path.py.
    settings.PRAKRIYA_PREDICT_ROUTE_SECONDS = 0


def deploy(project, lead, *, seed: int = 0, name: str = "digits api") -> Deployment:
    export = served_export(project, seed=seed)
    benchmarked(export, inside=True)
    return services.deployment_create(project=project, actor=lead, name=name, export=export)


def url(deployment: Deployment) -> str:
    return f"/api/projects/{deployment.project.slug}/deployments/{deployment.slug}/predict/"


def keyed_client(deployment, lead, name="caller") -> APIClient:
    """A caller with a deployment key, through the WSGI layers as on the running platform: its
    JSON predictions are answered by the fast path (deployments/wsgi.py), the rest by Django."""
    _, secret = services.key_create(deployment=deployment, actor=lead, name=name)
    client = LayeredAPIClient()
    client.credentials(HTTP_X_DEPLOYMENT_KEY=secret)
    return client


def logged() -> list[Prediction]:
    log.buffer.flush()
    return list(Prediction.objects.order_by("id"))


def test_a_key_gets_labels_with_scores_from_the_stable_version_equal_to_the_model(project, lead):
    deployment = deploy(project, lead)
    client = keyed_client(deployment, lead)

    response = client.post(url(deployment), {"inputs": ROWS}, format="json")

    assert response.status_code == 200, response.content
    assert response.answered_by_layer  # the fast path, as gunicorn serves it
    body = response.json()
    assert body["version"] == deployment.stable_id and body["deployment"] == deployment.slug
    expected = expected_probabilities(0, ROWS)
    for answer, probabilities in zip(body["predictions"], expected, strict=True):
        assert answer["label"] == str(int(np.argmax(probabilities)))
        assert answer["score"] == pytest.approx(probabilities.max(), abs=1e-5)
        assert [answer["scores"][str(d)] for d in range(10)] == pytest.approx(probabilities.tolist(), abs=1e-5)
    rows = logged()
    assert [p.label for p in rows] == [a["label"] for a in body["predictions"]]
    assert all(p.export_id == deployment.stable_id and p.latency_ms > 0 for p in rows)


def test_an_image_as_base64_or_as_an_uploaded_file_is_prepared_as_training_prepared_it(project, lead):
    deployment = deploy(project, lead)
    client = keyed_client(deployment, lead)
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    png = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(png, format="PNG")

    as_json = client.post(url(deployment), {"inputs": [{"image_base64": base64.b64encode(png.getvalue()).decode()}]},
                          format="json")
    png.seek(0)
    png.name = "digit.png"
    as_file = client.post(url(deployment), {"file": png}, format="multipart")

    expected = expected_probabilities(0, [pixels.reshape(-1).astype(float).tolist()])[0]
    for response in (as_json, as_file):
        assert response.status_code == 200, response.content
        assert response.json()["predictions"][0]["score"] == pytest.approx(expected.max(), abs=1e-5)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"inputs": [[1.0] * 63]}, "must hold 64 numbers"),
        ({"inputs": [["a"] * 64]}, "must be a number"),
        ({"inputs": []}, "non-empty list"),
        ({"inputs": "1,2,3"}, "non-empty list"),
        ({"rows": [[1.0] * 64]}, "inputs"),
        ({"inputs": [{"image_base64": "not base64!"}]}, "not valid base64"),
        ({"inputs": [{"image_base64": base64.b64encode(b"GIF89a-not-really").decode()}]}, "not an image"),
        ({"inputs": [[1.0] * 64] * 300}, "At most 256 inputs"),
    ],
)
def test_malformed_requests_get_400_naming_what_is_expected_and_nothing_is_logged(project, lead, body, says):
    deployment = deploy(project, lead)
    client = keyed_client(deployment, lead)

    response = client.post(url(deployment), body, format="json")

    assert response.status_code == 400, response.content
    assert says in json.dumps(response.json())
    assert logged() == []


def test_an_oversize_body_is_413_and_broken_json_400(project, lead, settings):
    deployment = deploy(project, lead)
    client = keyed_client(deployment, lead)
    settings.PRAKRIYA_PREDICT_MAX_BODY_BYTES = 2048

    big = client.post(url(deployment), {"inputs": [[1.0] * 64] * 40}, format="json")
    broken = client.generic("POST", url(deployment), b'{"inputs": [', content_type="application/json")

    assert big.status_code == 413
    assert broken.status_code == 400
    assert logged() == []


def test_the_endpoint_documents_its_input_schema(project, lead):
    deployment = deploy(project, lead)
    response = keyed_client(deployment, lead).get(url(deployment))
    assert response.status_code == 200
    assert response.json()["input_schema"]["n_features"] == 64


def test_a_key_calls_only_its_deployment_and_a_revoked_key_fails_at_once(project, lead):
    first = deploy(project, lead, name="first")
    second = deploy(project, lead, seed=1, name="second")
    key, secret = services.key_create(deployment=first, actor=lead, name="partner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert client.post(url(first), {"inputs": ROWS[:1]}, format="json").status_code == 200
    assert client.post(url(second), {"inputs": ROWS[:1]}, format="json").status_code == 403

    services.key_revoke(key=key, actor=lead)
    assert client.post(url(first), {"inputs": ROWS[:1]}, format="json").status_code == 401
    assert len(logged()) == 1


@pytest.mark.parametrize(
    ("visibility", "expected"),
    [
        ("public", {"engineer": 200, "lead": 200, "annotator": 403, "viewer": 403, "outsider": 403, "anonymous": 401}),
        ("private", {"engineer": 200, "lead": 200, "annotator": 403, "viewer": 403, "outsider": 404,
                     "anonymous": 404}),
    ],
)
def test_personal_tokens_call_by_role_and_a_private_deployment_is_404_to_others(
    project, private_project, lead, engineer, annotator, viewer, outsider, visibility, expected
):
    deployment = deploy(project if visibility == "public" else private_project, lead)
    answers = {}
    for name, user in {"engineer": engineer, "lead": lead, "annotator": annotator, "viewer": viewer,
                       "outsider": outsider, "anonymous": None}.items():
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        with recorded():  # this is the prediction endpoint's permission matrix
            answers[name] = client.post(url(deployment), {"inputs": ROWS[:1]}, format="json").status_code
    assert answers == expected


def test_the_canary_gets_its_share_of_callers_within_statistical_tolerance_and_each_caller_sticks(project, lead):
    deployment = deploy(project, lead)
    canary = served_export(project, seed=1)
    deployment = services.canary_start(deployment=deployment, actor=lead, export=canary, percent=10)
    callers = [f"caller-{i}" for i in range(4000)]

    chosen = [rollout.version_for(deployment=deployment, caller=c).pk for c in callers]
    share = chosen.count(canary.pk) / len(callers)
    # 10% of 4000 callers: the standard deviation is sqrt(0.1 * 0.9 / 4000) ≈ 0.47 points.
    assert abs(share - 0.10) < 4 * (0.1 * 0.9 / len(callers)) ** 0.5
    assert chosen == [rollout.version_for(deployment=deployment, caller=c).pk for c in callers]

    wider = services.canary_share_set(deployment=deployment, actor=lead, percent=25)
    widened = [rollout.version_for(deployment=wider, caller=c).pk for c in callers]
    # Widening keeps every caller already on the canary there.
    assert all(w == canary.pk for c, w in zip(chosen, widened, strict=True) if c == canary.pk)
    assert abs(widened.count(canary.pk) / len(callers) - 0.25) < 0.03


def test_one_key_always_gets_the_same_version_and_promote_and_rollback_switch_at_the_next_request(project, lead):
    deployment = deploy(project, lead)
    canary = served_export(project, seed=1)
    services.canary_start(deployment=deployment, actor=lead, export=canary, percent=50)
    clients = [keyed_client(deployment, lead, name=f"k{i}") for i in range(8)]

    versions = [{c.post(url(deployment), {"inputs": ROWS[:1]}, format="json").json()["version"] for _ in range(3)}
                for c in clients]
    assert all(len(v) == 1 for v in versions)  # sticky per key
    assert {v.pop() for v in versions} == {deployment.stable_id, canary.pk}  # 8 keys at 50%: both seen

    benchmarked(canary, inside=True)
    services.canary_promote(deployment=deployment, actor=lead)
    assert {c.post(url(deployment), {"inputs": ROWS[:1]}, format="json").json()["version"] for c in clients} == {
        canary.pk}

    third = served_export(project, seed=2)
    services.canary_start(deployment=deployment, actor=lead, export=third, percent=99)
    services.canary_rollback(deployment=deployment, actor=lead)
    assert {c.post(url(deployment), {"inputs": ROWS[:1]}, format="json").json()["version"] for c in clients} == {
        canary.pk}
    actions = list(Deployment.objects.get(pk=deployment.pk).events.order_by("id").values_list("action", flat=True))
    assert actions == [RolloutAction.CREATE, RolloutAction.CANARY, RolloutAction.PROMOTE, RolloutAction.CANARY,
                       RolloutAction.ROLLBACK]
    assert TimelineEvent.objects.filter(project=project, verb="deployment_promote").exists()


def test_going_to_100_percent_needs_the_benchmark_inside_the_targets_or_the_leads_recorded_override(
    project, lead, engineer
):
    unbenchmarked = served_export(project, seed=0)
    with pytest.raises(ValidationError, match="no finished benchmark"):
        services.deployment_create(project=project, actor=engineer, name="api", export=unbenchmarked)
    with pytest.raises(PermissionDenied):
        services.deployment_create(project=project, actor=engineer, name="api", export=unbenchmarked,
                                   override_reason="we accept it")
    deployment = services.deployment_create(project=project, actor=lead, name="api", export=unbenchmarked,
                                            override_reason="demo traffic only")
    assert deployment.events.get().override_reason == "demo traffic only"

    canary = served_export(project, seed=1)
    benchmarked(canary, inside=False)
    services.canary_start(deployment=deployment, actor=engineer, export=canary, percent=10)
    with pytest.raises(PermissionDenied):
        services.canary_promote(deployment=deployment, actor=engineer)
    with pytest.raises(ValidationError, match="misses a target: latency_p95"):
        services.canary_promote(deployment=deployment, actor=lead)
    benchmarked(canary, inside=True)
    promoted = services.canary_promote(deployment=deployment, actor=lead)
    assert promoted.stable_id == canary.pk and promoted.canary_id is None and promoted.canary_percent == 0


@pytest.mark.parametrize("setting", [PredictionInputs.STORE, PredictionInputs.HASH, PredictionInputs.DROP])
def test_the_prediction_log_keeps_of_each_input_what_the_privacy_setting_allows(project, lead, setting):
    project.prediction_inputs = setting
    project.save(update_fields=["prediction_inputs"])
    deployment = deploy(project, lead)
    marker = 12.3456789
    row = [marker] * 64

    assert keyed_client(deployment, lead).post(url(deployment), {"inputs": [row]}, format="json").status_code == 200

    (prediction,) = logged()
    stored = json.dumps({"input": prediction.input, "hash": prediction.input_hash, "stats": prediction.stats})
    if setting == PredictionInputs.STORE:
        assert prediction.input == row and prediction.input_hash
    elif setting == PredictionInputs.HASH:
        assert prediction.input is None and len(prediction.input_hash) == 64 and "12.3456789" not in stored
    else:
        assert prediction.input is None and prediction.input_hash == "" and "12.3456789" not in stored
    # The drift statistics are kept under every setting.
    assert prediction.stats["mean"] == pytest.approx(marker, abs=1e-3)


def test_a_log_that_cannot_be_written_drops_its_rows_without_failing_anything(project, lead):
    deployment = deploy(project, lead)
    log.record(deployment_id=deployment.pk, export_id=999_999_999, caller="x", policy=PredictionInputs.HASH,
               answers=[{"label": "1", "score": 0.5}], rows=[[0.0] * 64], stats=[{}], latency_ms=1.0)
    before = log.buffer.dropped

    assert log.buffer.flush() == 0
    assert log.buffer.dropped == before + 1
    response = keyed_client(deployment, lead).post(url(deployment), {"inputs": ROWS[:1]}, format="json")
    assert response.status_code == 200 and len(logged()) == 1


def test_retention_prunes_predictions_older_than_the_setting(project, lead, settings):
    deployment = deploy(project, lead)
    keyed_client(deployment, lead).post(url(deployment), {"inputs": ROWS}, format="json")
    logged()
    Prediction.objects.filter(pk=Prediction.objects.order_by("id").first().pk).update(
        created_at=timezone.now() - timedelta(days=100))
    settings.PRAKRIYA_PREDICTION_RETENTION_DAYS = 90

    assert log.prune() == 1
    assert Prediction.objects.count() == 2
