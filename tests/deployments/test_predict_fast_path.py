"""The prediction endpoint's fast path (deployments/wsgi.py) answers exactly what the API view
answers, for good requests and for every refusal, and leaves to Django every request that is not
the plain keyed JSON prediction. The endpoint's behaviour itself (answers, rollout, log, privacy)
is tested in test_serving.py, through the fast path as the running platform serves it."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

import prakriya.wsgi
from deployments import services
from deployments.models import Prediction
from deployments.serving import log
from deployments.wsgi import PredictFastPath
from tests.deployments.serving_helpers import benchmarked, served_export
from tests.wsgi_client import LayeredAPIClient

pytestmark = pytest.mark.django_db(transaction=True)

ROW = np.random.default_rng(1).uniform(0, 16, size=64).round(2).tolist()
SECURITY_HEADERS = ["X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy",
                    "Content-Security-Policy", "Content-Type", "WWW-Authenticate"]


def deploy(project, lead, *, seed=0, name="digits api"):
    export = served_export(project, seed=seed)
    benchmarked(export, inside=True)
    return services.deployment_create(project=project, actor=lead, name=name, export=export)


def url(deployment) -> str:
    return f"/api/projects/{deployment.project.slug}/deployments/{deployment.slug}/predict/"


def both_doors(key: str | None):
    """The API view (Django's handler alone) and the WSGI layers, with the same key."""
    view, layered = APIClient(HTTP_HOST="testserver"), LayeredAPIClient()
    if key is not None:
        for client in (view, layered):
            client.credentials(HTTP_X_DEPLOYMENT_KEY=key)
    return view, layered


def comparable(response) -> tuple:
    body = response.json()
    body.pop("latency_ms", None)
    return response.status_code, body, {name: response.get(name) for name in SECURITY_HEADERS}


def logged() -> int:
    log.buffer.flush()
    return Prediction.objects.count()


def test_the_fast_path_gives_the_api_views_answer_to_every_request(project, lead, settings):
    settings.PRAKRIYA_PREDICT_MAX_BODY_BYTES = 4096
    deployment = deploy(project, lead)
    other = deploy(project, lead, seed=1, name="other api")
    key, secret = services.key_create(deployment=deployment, actor=lead, name="partner")
    _, other_secret = services.key_create(deployment=other, actor=lead, name="other")
    revoked, revoked_secret = services.key_create(deployment=deployment, actor=lead, name="old")
    services.key_revoke(key=revoked, actor=lead)
    cases = [
        (secret, {"inputs": [ROW, ROW[::-1]]}, 200),
        (secret, {"inputs": [{"pixels": [int(v) for v in ROW]}]}, 200),
        (secret, {"inputs": [ROW[:63]]}, 400),
        (secret, {"inputs": [["a"] * 64]}, 400),
        (secret, {"inputs": []}, 400),
        (secret, {"rows": [ROW]}, 400),
        (secret, [ROW], 400),
        (secret, {"inputs": [{"image_base64": base64.b64encode(b"GIF89a-not-really").decode()}]}, 400),
        (secret, {"inputs": [ROW] * 300}, 413),
        (secret, b'{"inputs": [', 400),
        (secret, b'{"inputs": [[NaN]]}', 400),
        (secret, b'{"inputs": [[' + b"9" * 400 + b"," + b",".join([b"1"] * 63) + b']]}', 400),
        (secret, b"\xff\xfe not utf-8", 400),
        (other_secret, {"inputs": [ROW]}, 403),
        (revoked_secret, {"inputs": [ROW]}, 401),
        ("no-such-key", {"inputs": [ROW]}, 401),
    ]
    for key_secret, body, expected in cases:
        view, layered = both_doors(key_secret)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        answers = [client.generic("POST", url(deployment), raw, content_type="application/json")
                   for client in (view, layered)]
        assert answers[1].answered_by_layer, body
        assert answers[0].status_code == expected, (body, answers[0].content)
        assert comparable(answers[1]) == comparable(answers[0]), body
    # Only the two good requests were logged, once per door, one row per input.
    assert logged() == 2 * (2 + 1)


def test_requests_other_than_a_keyed_json_prediction_are_left_to_django(project, lead, settings):
    deployment = deploy(project, lead)
    _, secret = services.key_create(deployment=deployment, actor=lead, name="partner")
    payload = json.dumps({"inputs": [ROW]})

    keyed = LayeredAPIClient()
    keyed.credentials(HTTP_X_DEPLOYMENT_KEY=secret)
    bearer = LayeredAPIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    member = LayeredAPIClient()
    member.force_authenticate(user=lead)
    left_to_django = [
        keyed.get(url(deployment)),  # the input schema
        bearer.post(url(deployment), {"inputs": [ROW]}, format="json"),
        member.post(url(deployment), {"inputs": [ROW]}, format="json"),
        keyed.post(url(deployment), {"file": _png()}, format="multipart"),
        keyed.generic("POST", url(deployment) + "extra/", payload, content_type="application/json"),
        keyed.generic("POST", url(deployment), payload, content_type="text/plain"),
    ]
    assert [r.answered_by_layer for r in left_to_django] == [False] * len(left_to_django)
    assert [r.status_code for r in left_to_django] == [200, 200, 200, 200, 404, 415]

    # A Host the site does not serve gets Django's 400, not an answer.
    stranger = LayeredAPIClient(HTTP_HOST="evil.example")
    stranger.credentials(HTTP_X_DEPLOYMENT_KEY=secret)
    refused = stranger.generic("POST", url(deployment), payload, content_type="application/json")
    assert (refused.answered_by_layer, refused.status_code) == (False, 400)

    # Where the site redirects plain HTTP to HTTPS, so does a prediction over plain HTTP...
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    keyed = LayeredAPIClient()  # Django's middleware reads these settings when it is loaded
    keyed.credentials(HTTP_X_DEPLOYMENT_KEY=secret)
    plain = keyed.generic("POST", url(deployment), payload, content_type="application/json")
    assert (plain.answered_by_layer, plain.status_code) == (False, 301)
    # ...and over HTTPS the fast path answers, with the site's HSTS header.
    secure = keyed.generic("POST", url(deployment), payload, content_type="application/json", secure=True)
    assert (secure.answered_by_layer, secure.status_code) == (True, 200)
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")


def route_queries(client, deployment) -> tuple[int, int]:
    """(status, how many times the key's route was read from the database) for one prediction."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url(deployment), {"inputs": [ROW]}, format="json")
    assert response.answered_by_layer
    return response.status_code, sum("deploymentkey" in q["sql"] for q in queries.captured_queries)


def test_a_process_keeps_a_keys_route_for_the_set_time_then_sees_a_promote_and_a_revocation(
    project, lead, settings
):
    settings.PRAKRIYA_PREDICT_ROUTE_SECONDS = 0.3
    deployment = deploy(project, lead)
    canary = served_export(project, seed=1)
    benchmarked(canary, inside=True)
    services.canary_start(deployment=deployment, actor=lead, export=canary, percent=5)
    client = LayeredAPIClient()  # one web process
    for attempt in range(100):  # a key the 5% canary does not answer, so that the promote shows
        key, secret = services.key_create(deployment=deployment, actor=lead, name=f"partner {attempt}")
        client.credentials(HTTP_X_DEPLOYMENT_KEY=secret)
        if client.post(url(deployment), {"inputs": [ROW]}, format="json").json()["version"] != canary.pk:
            break
    time.sleep(0.35)

    assert route_queries(client, deployment) == (200, 1)
    assert route_queries(client, deployment) == (200, 0)  # kept: no query

    services.canary_promote(deployment=deployment, actor=lead)
    time.sleep(0.35)
    with CaptureQueriesContext(connection):
        answer = client.post(url(deployment), {"inputs": [ROW]}, format="json").json()
    assert answer["version"] == canary.pk  # the promote reached this process within the set time

    services.key_revoke(key=key, actor=lead)
    time.sleep(0.35)
    assert route_queries(client, deployment) == (401, 1)
    assert route_queries(client, deployment) == (401, 1)  # a refused key is read every time


def test_the_running_platforms_application_is_wrapped_in_the_fast_path():
    assert isinstance(prakriya.wsgi.application, PredictFastPath)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_connection_the_database_dropped_costs_one_retry_not_an_error(project, lead):
    deployment = deploy(project, lead)
    _, secret = services.key_create(deployment=deployment, actor=lead, name="partner")
    client = LayeredAPIClient()
    client.credentials(HTTP_X_DEPLOYMENT_KEY=secret)
    assert client.post(url(deployment), {"inputs": [ROW]}, format="json").status_code == 200

    connection.ensure_connection()
    connection.connection.close()  # as a database restart leaves it: Django still holds it
    again = client.post(url(deployment), {"inputs": [ROW]}, format="json")

    assert (again.answered_by_layer, again.status_code) == (True, 200)


def _png():
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8), mode="L").save(png, format="PNG")
    png.seek(0)
    png.name = "digit.png"
    return png
