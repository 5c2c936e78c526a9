"""Every user-written text is rendered through prakriya.lib.markdown: useful Markdown survives, anything
that could run in a reader's browser does not."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from prakriya.lib.markdown import render_markdown
from projects import services


class _Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML (escaped text is not one)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}


def elements(markdown: str) -> _Elements:
    return _Elements(str(render_markdown(markdown)))


SAFE_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<div onclick="steal()">click me</div>',
    '<a href="https://example.org" onmouseover="steal()">hover</a>',
    "<iframe src=https://evil.example></iframe>",
    "<style>body { display: none }</style>",
    "<svg onload=alert(1)><circle r=1 /></svg>",
    '<form action="https://evil.example"><input name=p></form>',
    "<object data=x.swf></object><embed src=x.swf>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(document.cookie))",
    "[click]( javascript:alert(1) )",
    "![pic](javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '[click](https://example.org "x\\" onmouseover=\\"alert(1)")',
    "<a href='javascript:alert(1)'>raw link</a>",
    "```html\n<script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    "<!-- <script>alert(1)</script> -->",
    "text<script\n>alert(1)</script\n>more",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_executable_survives(text):
    html = str(render_markdown(text))
    found = _Elements(html)
    assert found.tags() <= SAFE_TAGS, html
    for _tag, attrs in found.elements:
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), html
            assert name in {"href", "title", "src", "alt", "rel", "style"}, html
            if name in {"href", "src"} and value:
                scheme = value.split(":", 1)[0].strip().lower() if ":" in value else ""
                assert scheme in {"", "http", "https", "mailto"}, html
    assert "<script" not in html.lower()


def test_script_is_removed_as_an_element_and_kept_only_as_visible_text():
    html = str(render_markdown("<script>alert(1)</script>"))
    assert "script" not in elements("<script>alert(1)</script>").tags()
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("raw", ["<div>block</div>", "<span>inline</span>", "<b onclick=x>bold</b>",
                                 "<p style='color:red'>styled</p>", "<u>under</u>"])
def test_raw_html_is_not_rendered(raw):
    # Raw HTML is turned off in the parser: even tags the sanitiser would allow appear as text.
    found = elements(raw)
    assert found.tags() == {"p"}
    assert found.elements == [("p", {})]


def test_headings_lists_emphasis_and_code_are_kept():
    found = elements(
        "# Title\n\n## Section\n\n### Sub\n\nSome *emphasis*, **strong** and `code`.\n\n"
        "- one\n- two\n\n1. first\n2. second\n\n> quoted\n\n```\nblock\n```\n\n---\n\n~~gone~~"
    )
    assert {"h1", "h2", "h3", "p", "em", "strong", "code", "ul", "ol", "li", "blockquote", "pre", "hr",
            "s"} <= found.tags()


def test_tables_are_kept_with_their_alignment_only():
    html = str(render_markdown("| metric | target |\n|:--|--:|\n| accuracy | 0.97 |\n"))
    found = _Elements(html)
    assert {"table", "thead", "tbody", "tr", "th", "td"} <= found.tags()
    styles = {attrs.get("style") for tag, attrs in found.elements if tag in {"th", "td"}}
    assert styles == {"text-align:left", "text-align:right"}
    assert "<td style=\"text-align:right\">0.97</td>" in html


def test_links_keep_their_address_and_open_safely():
    found = elements('See [the paper](https://arxiv.org/abs/1234.5678 "A paper") and <https://example.org>.')
    links = [attrs for tag, attrs in found.elements if tag == "a"]
    assert [link["href"] for link in links] == ["https://arxiv.org/abs/1234.5678", "https://example.org"]
    for link in links:
        assert "noopener" in link["rel"].split()
        assert "noreferrer" in link["rel"].split()
    assert links[0]["title"] == "A paper"


def test_mailto_links_are_kept():
    [(tag, attrs)] = [e for e in elements("[write](mailto:team@example.org)").elements if e[0] == "a"]
    assert attrs["href"] == "mailto:team@example.org"


def test_images_keep_only_safe_sources():
    found = elements("![digits](https://example.org/d.png)")
    [(tag, attrs)] = [e for e in found.elements if e[0] == "img"]
    assert attrs == {"src": "https://example.org/d.png", "alt": "digits"}


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_text_renders_nothing(empty):
    assert str(render_markdown(empty)) == ""


def test_null_bytes_and_odd_unicode_do_not_break_rendering():
    html = str(render_markdown("a\x00b \u202e reversed \ud7ff"))
    assert "\x00" not in html
    assert html.startswith("<p>")


# --- Through the page ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_charter_with_a_script_renders_escaped_on_the_project_page(client, project, engineer):
    services.project_update_charter(
        project=project, actor=engineer,
        problem_statement="<script>alert(1)</script>\n\n[click](javascript:alert(2))",
        ml_role='<img src=x onerror="alert(3)">',
        value_notes="**Bold** value",
    )
    response = client.get(reverse("projects:detail", args=[project.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert "&lt;img src=x onerror=" in html
    page = _Elements(html)
    assert "img" not in page.tags()
    assert not [(tag, attrs) for tag, attrs in page.elements if any(a.startswith("on") for a in attrs)]
    assert not [attrs for tag, attrs in page.elements if tag == "script" and "src" not in attrs]
    assert "<strong>Bold</strong> value" in html


@pytest.mark.django_db
def test_a_deliverable_body_with_a_script_renders_escaped(client, project, engineer):
    deliverable = project.deliverables.get(kind="data_document")
    services.deliverable_save_body(deliverable=deliverable, actor=engineer,
                                   body="# Data\n\n<script>alert(1)</script>")
    response = client.get(reverse("projects:deliverable", args=[project.slug, "data_document"]))
    html = response.content.decode()
    assert "<h1>Data</h1>" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_a_title_and_summary_with_markup_are_escaped_everywhere(client, project, engineer):
    services.project_update_charter(project=project, actor=engineer, title="<b>Bold</b> <script>x()</script>",
                                    summary="<img src=x onerror=y()>")
    for url in (reverse("projects:directory"), reverse("projects:detail", args=[project.slug]),
                reverse("projects:history", args=[project.slug]), reverse("projects:revision", args=[project.slug, 2])):
        html = client.get(url).content.decode()
        assert "<script>x()</script>" not in html, url
        assert "img" not in _Elements(html).tags(), url
