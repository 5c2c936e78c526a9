"""The Content-Security-Policy (django-csp): enforced on every HTML page, scripts only from the
platform's files, images only from the platform and data: URIs. Every route of the permission
tables is checked by tests/matrix.py; these tests cover the pages outside them and the policy's
details. Browsers enforcing it: tests/e2e/test_content_security_policy.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from projects import services
from tests.csp import NONCE, csp_problem, policy_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[1] / "frontend" / "templates"


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _get(client: Client, path: str, **headers):
    response = client.get(path, **headers)
    assert response.status_code < 500, path
    return response


PUBLIC_PAGES = [
    "/", "/?tag=nope&stage=bogus", "/projects/digits/", "/projects/digits/timeline/", "/accounts/login/",
    "/accounts/signup/", "/accounts/signup/sent/", "/accounts/signup/confirm/garbage/", "/api/auth/login/",
    "/api/docs/", "/projects/no-such-project/", "/admin/login/",
]
SIGNED_IN_PAGES = [
    "/accounts/profile/", "/projects/new/", "/projects/digits/settings/", "/projects/secret-forms/",
    "/projects/digits/edit/", "/accounts/lockouts/", "/admin/", "/admin/auth/user/", "/admin/axes/accessattempt/",
    "/admin/accounts/lockoutlift/",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_pages_anyone_sees_carry_the_enforced_policy(client, project, path):
    response = _get(client, path)
    assert csp_problem(response) is None, (path, response.get("Content-Security-Policy"))


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_pages_a_signed_in_superuser_sees_carry_the_enforced_policy(client, project, private_project, superuser, path):
    client.force_login(superuser)
    response = _get(client, path)
    assert response.status_code == 200, path
    assert csp_problem(response) is None, (path, response.get("Content-Security-Policy"))


def test_error_pages_and_the_browsable_api_carry_it_too(client, project, lead):
    client.force_login(lead)
    for path, status in [("/projects/digits/nope/", 404), ("/api/projects/", 200), ("/api/projects/digits/", 200)]:
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == status, path
        assert response["Content-Type"].startswith("text/html"), path
        assert csp_problem(response) is None, path
    engineer_only = Client()
    engineer_only.force_login(UserFactory())
    forbidden = engineer_only.get("/accounts/lockouts/")
    assert forbidden.status_code == 403
    assert csp_problem(forbidden) is None
    # A bad Host header is a 400 page, under the policy as well.
    bad_host = client.get("/", HTTP_HOST="evil.example")
    assert bad_host.status_code == 400
    assert bad_host.has_header("Content-Security-Policy")


def test_the_policy_is_exactly_what_the_platform_promises(client):
    policy = policy_of(client.get("/"))
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no other host
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["style-src"][0] == "'self'" and NONCE.match(policy["style-src"][1])
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["font-src"] == ["'self'"]
    assert not client.get("/").has_header("Content-Security-Policy-Report-Only")


def test_each_page_gets_its_own_nonce_and_only_its_style_element_carries_it(client):
    first, second = client.get("/"), client.get("/")
    nonces = []
    for response in (first, second):
        nonce = policy_of(response)["style-src"][1].removeprefix("'nonce-").removesuffix("'")
        html = response.content.decode()
        assert set(re.findall(r'nonce="([^"]+)"', html)) == {nonce}
        assert f'<style id="plotly.js-style-global" nonce="{nonce}"></style>' in html
        assert len(re.findall(r"<style\b", html)) == len(re.findall(r'<style id="[^"]+" nonce="', html))
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_json_answers_carry_the_policy_too(client, project):
    response = client.get("/api/projects/", HTTP_ACCEPT="application/json")
    assert response["Content-Type"] == "application/json"
    assert policy_of(response)["script-src"] == ["'self'"]


def test_swagger_ui_starts_from_a_script_file_not_an_inline_script(client):
    page = client.get("/api/docs/")
    html = page.content.decode()
    inline = [s for s in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S) if "src=" not in s[0]]
    assert inline == []
    [script_url] = [u for u in re.findall(r'<script src="([^"]+)"', html) if "script=" in u]
    script = client.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    assert csp_problem(page) is None


def test_redoc_alone_may_add_inline_styles_and_a_blob_worker(client):
    policy = policy_of(client.get("/api/redoc/"))
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert policy["script-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    html = client.get("/api/redoc/").content.decode()
    assert "fonts.googleapis.com" not in html
    assert re.findall(r"<script(?![^>]*src=)[^>]*>", html) == []


def test_a_markdown_image_from_another_host_is_left_to_the_policy(client, project, lead):
    """The Markdown keeps the image (a reader may want the link), but the page's policy admits
    images from the platform only: browsers do not fetch it (checked in a real browser by
    tests/e2e/test_content_security_policy.py)."""
    services.project_update_charter(project=project, actor=lead, problem_statement="![t](https://tracker.example/p.png)")
    response = client.get(reverse("projects:detail", args=[project.slug]))
    assert 'src="https://tracker.example/p.png"' in response.content.decode()
    assert "https://tracker.example" not in response["Content-Security-Policy"]
    assert policy_of(response)["img-src"] == ["'self'", "data:"]


def test_no_template_holds_an_inline_script_or_event_handler():
    """Scripts are files under frontend/static/js/; data for them travels in
    <script type="application/json"> blocks, which are never run."""
    problems = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for attributes in re.findall(r"<script\b([^>]*)>", text):
            if "src=" not in attributes and 'type="application/json"' not in attributes:
                problems.append(f"{template.relative_to(TEMPLATES)}: inline <script{attributes}>")
        for handler in re.findall(r"\s(on[a-z]+)\s*=", text):
            problems.append(f"{template.relative_to(TEMPLATES)}: event handler attribute {handler}")
        if "javascript:" in text:
            problems.append(f"{template.relative_to(TEMPLATES)}: javascript: URL")
        for style in re.findall(r"<style\b([^>]*)>", text):
            # The deliverable's HTML download is a file opened outside the site (served as an
            # attachment): its style sheet and charts travel inside it.
            if "csp_nonce" not in style and "redoc" not in template.name and template.name != "deliverable_export.html":
                problems.append(f"{template.relative_to(TEMPLATES)}: <style> without the nonce")
    assert problems == []


def test_the_checker_itself_flags_what_is_missing():
    assert csp_problem(HttpResponse("<p>hi</p>")) == "no Content-Security-Policy header"
    loose = HttpResponse("<p>hi</p>")
    strict = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'none'; form-action 'self'; style-src 'self'"
    )
    loose["Content-Security-Policy"] = strict + "; script-src 'self' 'unsafe-inline'"
    assert "script-src" in csp_problem(loose)
    loose["Content-Security-Policy"] = strict + "; script-src 'self' https://cdn.example"
    assert "script-src" in csp_problem(loose)
    loose["Content-Security-Policy"] = strict + "; script-src 'self'"
    assert csp_problem(loose) is None
    loose["Content-Security-Policy"] = strict.replace("img-src 'self' data:", "img-src *") + "; script-src 'self'"
    assert "img-src" in csp_problem(loose)
    report_only = HttpResponse("<p>hi</p>")
    report_only["Content-Security-Policy-Report-Only"] = "default-src 'self'"
    assert csp_problem(report_only) == "the Content-Security-Policy is report-only"
    assert csp_problem(HttpResponse("{}", content_type="application/json")) is None


def _render_figure(figure: dict):
    import json

    from django.template import RequestContext, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    Template("{% plotly_figure figure 'chart' %}").render(RequestContext(request, {"figure": json.dumps(figure)}))
    return request


@pytest.mark.parametrize(
    ("figure", "allows_eval"),
    [
        ({"data": [{"type": "scatter", "y": [1, 2]}], "layout": {}}, False),
        ({"data": [{"y": [1, 2]}], "layout": {}}, False),  # scatter by default
        ({"data": [{"type": "bar", "y": [1]}, {"type": "heatmap", "z": [[1]]}]}, False),
        ({"data": [{"type": "scattergl", "y": [1, 2]}], "layout": {}}, True),
        ({"data": [{"type": "parcoords", "dimensions": []}], "layout": {}}, True),
        ({"data": "not a list"}, False),
    ],
)
def test_only_a_webgl_chart_asks_its_page_to_allow_eval(figure, allows_eval):
    assert getattr(_render_figure(figure), "csp_allows_eval", False) is allows_eval


def test_a_page_that_asked_gets_eval_and_nothing_more():
    from django.test import RequestFactory

    from prakriya.csp import ContentSecurityPolicyMiddleware

    def view(request):
        request.csp_allows_eval = True
        return HttpResponse("<p>chart</p>")

    middleware = ContentSecurityPolicyMiddleware(view)
    widened = policy_of(middleware(RequestFactory().get("/")))
    assert widened["script-src"] == ["'self'", "'unsafe-eval'"]
    assert widened["img-src"] == ["'self'", "data:"] and widened["object-src"] == ["'none'"]
    plain = policy_of(ContentSecurityPolicyMiddleware(lambda request: HttpResponse("<p>x</p>"))(RequestFactory().get("/")))
    assert plain["script-src"] == ["'self'"]


def test_live_chart_pages_allow_eval_from_the_start():
    """Pages whose charts runs.js redraws as data arrives may turn to WebGL after loading."""
    for name in ("run_detail", "run_compare", "sweep_detail"):
        assert "{% block content %}{% webgl_charts %}" in (TEMPLATES / "experiments" / f"{name}.html").read_text()
