"""The deployment pages and management API: who gets what (every route × role × visibility), and
the main paths as a lead and an engineer use them."""

from __future__ import annotations

import functools

import pytest
from django.urls import reverse

from deployments import services
from deployments.models import Deployment, DeploymentKey, RolloutEvent
from tests.deployments.serving_helpers import benchmarked, served_export
from tests.experiments.test_pages_permissions import LOGIN, PRIVATE_READ, PUBLIC_READ, R, _outcome, row
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

PUBLIC_MANAGE = row(LOGIN, 403, 403, 403, R, R)
PRIVATE_MANAGE = row(404, 404, 403, 403, R, R)
PUBLIC_PROMOTE = row(LOGIN, 403, 403, 403, 403, R)
PRIVATE_PROMOTE = row(404, 404, 403, 403, 403, R)

API_PUBLIC_READ = row(200, 200, 200, 200, 200, 200)
API_PRIVATE_READ = row(404, 404, 200, 403, 200, 200)
API_PUBLIC_TEAM = row(401, 403, 403, 403, 200, 200)
# Reads for the team only: an anonymous GET is answered as every API read of a project is.
API_PUBLIC_TEAM_READ = row(403, 403, 403, 403, 200, 200)
API_PRIVATE_TEAM_READ = row(404, 404, 403, 403, 200, 200)
API_PRIVATE_TEAM = row(401, 404, 403, 403, 200, 200)
API_PUBLIC_CREATE = row(401, 403, 403, 403, 201, 201)
API_PRIVATE_CREATE = row(401, 404, 403, 403, 201, 201)
API_PUBLIC_PROMOTE = row(401, 403, 403, 403, 403, 200)
API_PRIVATE_PROMOTE = row(401, 404, 403, 403, 403, 200)

ROUTES = [
    ("deployments", "GET", PUBLIC_READ, PRIVATE_READ),
    ("deployments", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("deployment", "GET", PUBLIC_READ, PRIVATE_READ),
    ("export_bundle", "GET", PUBLIC_READ, PRIVATE_READ),
    ("canary", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("share", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("promote", "POST", PUBLIC_PROMOTE, PRIVATE_PROMOTE),
    ("rollback", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("key_create", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("key_revoke", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("api:list", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api:list", "POST", API_PUBLIC_CREATE, API_PRIVATE_CREATE),
    ("api:detail", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api:canary", "POST", API_PUBLIC_TEAM, API_PRIVATE_TEAM),
    ("api:share", "POST", API_PUBLIC_TEAM, API_PRIVATE_TEAM),
    ("api:promote", "POST", API_PUBLIC_PROMOTE, API_PRIVATE_PROMOTE),
    ("api:rollback", "POST", API_PUBLIC_TEAM, API_PRIVATE_TEAM),
    ("api:keys", "GET", API_PUBLIC_TEAM_READ, API_PRIVATE_TEAM_READ),
    ("api:keys", "POST", API_PUBLIC_CREATE, API_PRIVATE_CREATE),
    ("api:revoke", "POST", API_PUBLIC_TEAM, API_PRIVATE_TEAM),
    ("api:predictions", "GET", API_PUBLIC_TEAM_READ, API_PRIVATE_TEAM_READ),
    ("api:schema", "GET", API_PUBLIC_TEAM | {"anonymous": 401}, API_PRIVATE_TEAM | {"anonymous": 404}),
]


def world(project, lead):
    """Two deployments: `rolling` with a 10% canary whose benchmark is inside the targets (and a
    key), `plain` with no canary; a third ready export to start a canary with."""
    stable = served_export(project, seed=0)
    benchmarked(stable, inside=True)
    rolling = services.deployment_create(project=project, actor=lead, name="rolling", export=stable)
    canary = served_export(project, seed=1)
    benchmarked(canary, inside=True)
    services.canary_start(deployment=rolling, actor=lead, export=canary, percent=10)
    plain = services.deployment_create(project=project, actor=lead, name="plain", export=stable)
    spare = served_export(project, seed=2)
    key, _ = services.key_create(deployment=rolling, actor=lead, name="partner")
    return {"rolling": rolling, "plain": plain, "stable": stable, "spare": spare, "key": key}


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_deployment_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project, lead):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    built = world(target, lead)
    check_routes({
        f"{method} {route}": functools.partial(
            _check_route, route=route, method=method, expected=public if visibility == "public" else private,
            visibility=visibility, built=built, users=users, slug=target.slug,
        )
        for route, method, public, private in ROUTES
    })


def _check_route(*, route, method, expected, visibility, built, users, slug):
    rolling, plain = built["rolling"].slug, built["plain"].slug
    api = f"/api/projects/{slug}/deployments/"
    html = {
        "deployments": (reverse("deployments:deployments", args=[slug]),
                        {"name": "new one", "export": built["stable"].pk}),
        "deployment": (reverse("deployments:deployment", args=[slug, rolling]), {}),
        "export_bundle": (reverse("deployments:export_bundle", args=[slug, built["stable"].pk]), {}),
        "canary": (reverse("deployments:canary", args=[slug, plain]), {"export": built["spare"].pk, "percent": 5}),
        "share": (reverse("deployments:share", args=[slug, rolling]), {"percent": 30}),
        "promote": (reverse("deployments:promote", args=[slug, rolling]), {}),
        "rollback": (reverse("deployments:rollback", args=[slug, rolling]), {}),
        "key_create": (reverse("deployments:key_create", args=[slug, rolling]), {"name": "another"}),
        "key_revoke": (reverse("deployments:key_revoke", args=[slug, rolling, built["key"].pk]), {}),
    }
    apis = {
        "list": (api, {"name": "new one", "export": built["stable"].pk}),
        "detail": (f"{api}{rolling}/", {}),
        "canary": (f"{api}{plain}/canary/", {"export": built["spare"].pk, "percent": 5}),
        "share": (f"{api}{rolling}/share/", {"percent": 30}),
        "promote": (f"{api}{rolling}/promote/", {}),
        "rollback": (f"{api}{rolling}/rollback/", {}),
        "keys": (f"{api}{rolling}/keys/", {"name": "another"}),
        "revoke": (f"{api}{rolling}/keys/{built['key'].pk}/revoke/", {}),
        "predictions": (f"{api}{rolling}/predictions/", {}),
        "schema": (f"{api}{rolling}/predict/", {}),
    }
    is_api = route.startswith("api:")
    url, data = apis[route.removeprefix("api:")] if is_api else html[route]
    before = (list(RolloutEvent.objects.order_by("id").values_list("id", flat=True)),
              list(DeploymentKey.objects.filter(revoked_at__isnull=True).values_list("id", flat=True)),
              Deployment.objects.count())

    def send(role):
        client = signed_in(users[role], api=is_api)
        if method == "GET":
            return client.get(url)
        return client.post(url, data, format="json") if is_api else client.post(url, data)

    def also(role, response, expected):
        if method == "POST" and expected in (403, 404, 401, LOGIN):
            after = (list(RolloutEvent.objects.order_by("id").values_list("id", flat=True)),
                     list(DeploymentKey.objects.filter(revoked_at__isnull=True).values_list("id", flat=True)),
                     Deployment.objects.count())
            if after != before:
                return "a refused request changed something"
        if method == "POST" and expected in (R, 200, 201) and route not in ("api:predictions",):
            if RolloutEvent.objects.count() == len(before[0]) and DeploymentKey.objects.count() == len(before[1]) \
                    and route not in ("key_revoke", "api:revoke"):
                return "an allowed request changed nothing"
        return None

    check_matrix(route=f"{method} {route}", visibility=visibility, send=send, status_of=_outcome, also=also,
                 expected=expected)


def test_the_lead_deploys_starts_a_canary_widens_and_promotes_it_from_the_pages(client, project, lead):
    stable = served_export(project, seed=0)
    benchmarked(stable, inside=True)
    client.force_login(lead)

    created = client.post(reverse("deployments:deployments", args=[project.slug]),
                          {"name": "Digits API", "export": stable.pk})
    deployment = Deployment.objects.get(project=project)
    assert created.status_code == 302 and created["Location"].endswith(f"/deployments/{deployment.slug}/")
    page = client.get(created["Location"])
    assert page.status_code == 200 and b"X-Deployment-Key" in page.content

    canary = served_export(project, seed=1)
    client.post(reverse("deployments:canary", args=[project.slug, deployment.slug]),
                {"export": canary.pk, "percent": 10})
    client.post(reverse("deployments:share", args=[project.slug, deployment.slug]), {"percent": 25})
    refused = client.post(reverse("deployments:promote", args=[project.slug, deployment.slug]), {})
    assert refused.status_code == 400 and b"no finished benchmark" in refused.content
    client.post(reverse("deployments:promote", args=[project.slug, deployment.slug]),
                {"override_reason": "benchmark machine down; latency checked by hand"})

    deployment.refresh_from_db()
    assert deployment.stable_id == canary.pk and deployment.canary_id is None
    history = client.get(reverse("deployments:deployment", args=[project.slug, deployment.slug])).content.decode()
    assert "benchmark machine down" in history and "Canary share changed" in history


def test_a_new_key_is_shown_once_and_only_its_digest_is_stored(client, project, lead):
    stable = served_export(project, seed=0)
    benchmarked(stable, inside=True)
    deployment = services.deployment_create(project=project, actor=lead, name="api", export=stable)
    client.force_login(lead)

    page = client.post(reverse("deployments:key_create", args=[project.slug, deployment.slug]), {"name": "forms"},
                       follow=True)

    # Posted, then redirected to the page that shows the secret: reloading that page adds no key.
    assert page.redirect_chain == [(reverse("deployments:deployment", args=[project.slug, deployment.slug]), 302)]
    assert page["Cache-Control"] == "no-store"
    text = page.content.decode()
    secret = text.split('data-testid="new-key"')[1].split('<pre class="code-block">')[1].split("</pre>")[0]
    assert secret.startswith("pkd_")
    key = DeploymentKey.objects.get()
    assert secret not in (key.digest, key.prefix) and key.digest != secret
    assert secret not in client.get(reverse("deployments:deployment", args=[project.slug, deployment.slug])).content.decode()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"name": "", "export": 1}, "This field is required"),
        ({"name": "exports", "export": None}, "deployment pages use"),
        ({"name": "x", "export": "abc"}, "Select a valid choice"),
    ],
)
def test_a_bad_deploy_form_comes_back_with_its_error_and_changes_nothing(client, project, lead, data, says):
    stable = served_export(project, seed=0)
    benchmarked(stable, inside=True)
    client.force_login(lead)
    if data["export"] is None:
        data = {**data, "export": stable.pk}

    response = client.post(reverse("deployments:deployments", args=[project.slug]), data)

    assert response.status_code == 400 and says in response.content.decode()
    assert not Deployment.objects.exists()
