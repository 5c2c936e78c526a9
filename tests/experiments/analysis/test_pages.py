"""The error-analysis pages and API on runs with a real logged predictions artifact: what they show,
what they refuse (clear 4xx, never a 500), the sealed split kept out, and who may see them."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from datasets.models import SealedItem
from projects.models import Target
from tests.conftest import ROLES
from tests.experiments.analysis_helpers import (
    analysed_run,
    animal_version,
    confident,
    log_predictions,
    payload,
)
from tests.experiments.runs_helpers import logged_run
from tests.fixtures_annotation import make_version
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db


def _page(run) -> str:
    return reverse("experiments:run_analysis", args=[run.project.slug, run.mlflow_run_id])


def _api(run) -> str:
    return reverse("api:run-analysis", kwargs={"project_slug": run.project.slug, "run_id": run.mlflow_run_id})


def _compare(project) -> str:
    return reverse("experiments:analysis_compare", args=[project.slug])


def _api_compare(project) -> str:
    return reverse("api:run-analysis-compare", kwargs={"project_slug": project.slug})


def test_the_analysis_page_shows_confusion_classes_targets_mistakes_and_slices(project, viewer):
    version = animal_version(project)
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.9)
    Target.objects.create(project=project, metric="precision", comparator=">=", threshold=0.9,
                          condition="at 25% coverage")
    run = analysed_run(project, version, name="forest", wrong={4, 7}, confidences={4: 0.95, 7: 0.6})
    client = Client()
    client.force_login(viewer)

    response = client.get(_page(run))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="confusion-chart"' in page and 'id="per-class-chart"' in page and 'id="slice-chart"' in page
    assert "accuracy ≥ 0.9" in page and "Missed" in page  # 10 of 12 right: 0.8333
    assert "precision ≥ 0.9 at 25% coverage" in page and "Met" in page
    # The surest mistake first, shown with its item's row.
    mistakes = page[page.index('data-testid="mistakes"'):page.index('id="slices"')]
    assert mistakes.index("animals-000004") < mistakes.index("animals-000007")
    assert '<td class="num">0.950</td>' in mistakes and '<dt dir="auto">weight</dt><dd dir="auto">5</dd>' in mistakes
    # Sliced by the first column by default: weight in quartiles.
    assert '<option value="weight" selected>' in page and "1 – 3</th>" in page


def test_a_slice_column_is_chosen_with_the_query_and_an_unknown_one_is_a_400(project, viewer):
    version = animal_version(project)
    run = analysed_run(project, version, name="forest", wrong={1, 3})  # both south
    client = Client()
    client.force_login(viewer)

    page = client.get(_page(run), {"slice": "region"}).content.decode()
    bad = client.get(_page(run), {"slice": "colour"})

    table = page[page.index('data-testid="slices"'):]
    assert '<option value="region" selected>' in page
    assert ">north</th><td class=\"num\">6</td><td class=\"num\">1.000" in table
    assert ">south</th><td class=\"num\">6</td><td class=\"num\">0.667" in table
    assert bad.status_code == 400 and "no column &#x27;colour&#x27; to slice by" in bad.content.decode()


def test_a_run_without_predictions_gets_a_page_saying_so(project, viewer):
    run = logged_run(project, name="notebook run")
    client = Client()
    client.force_login(viewer)

    response = client.get(_page(run))

    assert response.status_code == 200
    assert "This run logged no validation predictions" in response.content.decode()
    assert "confusion-chart" not in response.content.decode()


def test_an_unreadable_predictions_file_is_named_on_the_page_and_a_422_in_the_api(project):
    run = logged_run(project, name="garbled")
    log_predictions(run, {"classes": ["a", "b"], "keys": ["x"], "labels": ["a"], "probabilities": [[0.2]]})

    page = Client().get(_page(run))
    api = APIClient().get(_api(run))

    assert page.status_code == 200 and "must hold 2 numbers" in page.content.decode()
    assert api.status_code == 422 and "must hold 2 numbers" in str(api.json())


def test_mistakes_of_an_image_run_show_thumbnails_and_of_a_text_run_the_text(project, viewer):
    client = Client()
    client.force_login(viewer)
    for kind, slug in (("image", "pics"), ("text", "reviews")):
        version = make_version(project, kind=kind, slug=slug, count=2)
        run = logged_run(project, name=f"{kind} run", tags={"prakriya.dataset_version": f"{slug}@v1"})
        keys = [f"{slug}-{i:06d}" for i in range(2)]
        log_predictions(run, payload([(keys[0], "cat", confident("dog")), (keys[1], "dog", confident("dog"))]))
        item = version.items.get(key=keys[0])

        page = client.get(_page(run)).content.decode()

        mistakes = page[page.index('data-testid="mistakes"'):page.index('id="slices"')]
        if kind == "image":
            url = reverse("datasets:item_content", args=[project.slug, slug, 1, keys[0]])
            assert f'<img src="{url}"' in mistakes
            assert '<option value="file size" selected>' in page
        else:
            assert item.text[:40] in mistakes
            assert '<option value="text length" selected>' in page


def test_items_of_the_sealed_test_split_never_reach_the_page_or_the_api(project, viewer):
    version = animal_version(project)
    SealedItem.objects.create(dataset=version.dataset, key="animals-000005")
    run = analysed_run(project, version, name="leaky client", wrong={5})
    client = Client()
    client.force_login(viewer)

    page = client.get(_page(run)).content.decode()
    body = APIClient().get(_api(run)).json()

    assert "animals-000005" not in page and "1 predicted items belong to the sealed test split" in page
    assert body["sealed_excluded"] == 1 and body["metrics"]["count"] == 11 and body["mistakes"] == []


def test_the_run_page_links_to_its_analysis(project, viewer):
    run = logged_run(project, name="linked")
    client = Client()
    client.force_login(viewer)

    page = client.get(reverse("experiments:run", args=[project.slug, run.mlflow_run_id])).content.decode()

    assert f'href="{_page(run)}"' in page


def test_the_api_returns_the_analysis_with_slices_on_request(project):
    version = animal_version(project)
    Target.objects.create(project=project, metric="macro_f1", comparator=">=", threshold=0.5)
    run = analysed_run(project, version, name="api", wrong={0})

    body = APIClient().get(_api(run), {"slice": "region"}).json()
    bad = APIClient().get(_api(run), {"slice": "nope"})

    assert body["run_id"] == run.mlflow_run_id and body["dataset_version"] == "animals@v1"
    assert body["metrics"]["count"] == 12 and body["metrics"]["accuracy"] == pytest.approx(11 / 12)
    assert body["confusion"]["labels"] == ["cat", "dog", "fox"] and body["confusion"]["matrix"][0] == [3, 1, 0]
    assert [row["support"] for row in body["per_class"]] == [4, 4, 4]
    assert body["targets"][0]["passed"] is True and body["targets"][0]["metric"] == "macro_f1"
    assert body["mistakes"] == [{"key": "animals-000000", "true": "cat", "predicted": "dog", "confidence": 0.8}]
    assert body["slice_columns"] == ["weight", "region"] and body["slice"] == "region"
    assert [(s["value"], s["count"]) for s in body["slices"]] == [("north", 6), ("south", 6)]
    assert bad.status_code == 400 and "no column 'nope'" in str(bad.json())


def test_a_run_without_predictions_is_a_404_in_the_api(project):
    run = logged_run(project, name="none")
    response = APIClient().get(_api(run))
    assert response.status_code == 404 and "logged no validation predictions" in str(response.json())


def test_two_runs_are_compared_on_the_page_and_in_the_api(project, viewer):
    version = animal_version(project)
    a = analysed_run(project, version, name="run A", wrong={0, 1})
    b = analysed_run(project, version, name="run B", wrong={1, 2, 3})
    client = Client()
    client.force_login(viewer)
    query = {"a": a.mlflow_run_id, "b": b.mlflow_run_id}

    page = client.get(_compare(project), query).content.decode()
    body = APIClient().get(_api_compare(project), query).json()

    assert 'id="compare-f1-chart"' in page
    assert "Both right: 8 · both wrong: 1 · A right, B wrong: 2 · B right, A wrong: 1" in page
    wins = page[page.index('data-testid="a-wins"'):page.index('data-testid="b-wins"')]
    assert "animals-000002" in wins and "animals-000003" in wins and "animals-000000" not in wins
    assert body["common"] == 12 and body["a"]["accuracy"] == pytest.approx(10 / 12)
    assert body["b"]["accuracy"] == pytest.approx(9 / 12)
    assert body["a_right_b_wrong"]["count"] == 2 and body["b_right_a_wrong"]["count"] == 1
    assert {row["label"] for row in body["per_class"]} == {"cat", "dog", "fox"}


def test_bad_comparisons_are_refused_clearly(project, viewer):
    version = animal_version(project)
    a = analysed_run(project, version, name="run A", wrong=set())
    bare = logged_run(project, name="no predictions")
    other = logged_run(project, name="elsewhere")
    log_predictions(other, payload([("zzz", "cat", confident("cat"))]))
    client = Client()
    client.force_login(viewer)
    api = APIClient()

    assert client.get(_compare(project)).status_code == 200  # the chooser
    assert client.get(_compare(project), {"a": a.mlflow_run_id}).status_code == 400
    assert client.get(_compare(project), {"a": a.mlflow_run_id, "b": a.mlflow_run_id}).status_code == 400
    assert client.get(_compare(project), {"a": a.mlflow_run_id, "b": "f" * 32}).status_code == 404
    missing = client.get(_compare(project), {"a": a.mlflow_run_id, "b": bare.mlflow_run_id})
    assert missing.status_code == 200 and "logged no validation predictions" in missing.content.decode()
    disjoint = client.get(_compare(project), {"a": a.mlflow_run_id, "b": other.mlflow_run_id})
    assert "share no validation item" in disjoint.content.decode()

    assert api.get(_api_compare(project), {"a": a.mlflow_run_id}).status_code == 400
    assert api.get(_api_compare(project), {"a": a.mlflow_run_id, "b": a.mlflow_run_id}).status_code == 400
    assert api.get(_api_compare(project), {"a": a.mlflow_run_id, "b": "f" * 32}).status_code == 404
    assert api.get(_api_compare(project), {"a": a.mlflow_run_id, "b": bare.mlflow_run_id}).status_code == 404
    assert api.get(_api_compare(project), {"a": a.mlflow_run_id, "b": other.mlflow_run_id}).status_code == 400


def test_the_schema_documents_the_analysis_routes(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/projects/{project_slug}/runs/{run_id}/analysis/" in schema
    assert "/api/projects/{project_slug}/runs/analysis/compare/" in schema


# --- Who may see the analysis -----------------------------------------------------------------------


def row(*cells) -> dict[str, Any]:
    return dict(zip(ROLES, cells, strict=True))


PUBLIC_READ = row(200, 200, 200, 200, 200, 200)
PRIVATE_READ = row(404, 404, 200, 403, 200, 200)
ROUTES = ["page", "compare page", "api", "api compare"]


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_analysis_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    version = animal_version(target)
    a = analysed_run(target, version, name="matrix A", wrong={0})
    b = analysed_run(target, version, name="matrix B", wrong={1})
    query = {"a": a.mlflow_run_id, "b": b.mlflow_run_id}
    where = {
        "page": (_page(a), None), "compare page": (_compare(target), query),
        "api": (_api(a), None), "api compare": (_api_compare(target), query),
    }
    check_routes({
        route: functools.partial(_check_route, route=route, visibility=visibility, users=users, where=where[route])
        for route in ROUTES
    })


def _check_route(*, route, visibility, users, where):
    url, data = where
    api = route.startswith("api")

    def also(role, response, expected):
        if expected == 200 and not api and b"matrix A" not in response.content:
            return "the page does not name the run"
        if expected == 200 and api and "a_run_id" not in response.json() and "per_class" not in response.json():
            return "the body is not an analysis"
        return None

    check_matrix(route=route, visibility=visibility, expected=PUBLIC_READ if visibility == "public" else PRIVATE_READ,
                 send=lambda role: signed_in(users[role], api=api).get(url, data), also=also)
