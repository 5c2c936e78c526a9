"""Label Studio's own labelling UI stores span offsets as code points: labelled by hand in a real
Label Studio server (tests/fixtures_labelstudio.py), pulled back through the sync client.

In tests/e2e so it shares the session's browser: a second Playwright session in the same
process would clash with it."""

from __future__ import annotations

import pytest

from datasets.annotation.labelstudio import client, writer
from datasets.annotation.labelstudio.config import label_config
from datasets.annotation.labelstudio.records import ItemRecord
from tests.annotation.labelstudio.test_server import ENTITY_LABELS
from tests.fixtures_labelstudio import label_studio_server  # noqa: F401 - the real server


@pytest.mark.e2e
def test_labelling_in_the_label_studio_ui_stores_code_point_offsets(label_studio_server, browser):  # noqa: F811
    """Drags across words after astral characters in LS's own labelling UI and submits."""
    server = label_studio_server
    text = "😀🎉 नमस्ते दिल्ली 𝔘nicode end"
    project_id = client.create_project(server.base_url, server.api_key, "labelled in the UI",
                                     label_config("span", "text", ENTITY_LABELS))
    (task_id,) = client.push_tasks(server.base_url, server.api_key, project_id,
                                 writer.task_payloads([ItemRecord("ui-1", text)], media="text"))
    user = server.add_user("ui-annotator@example.org")

    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        # LS's pages name analytics and CDN hosts; nothing but the local server is fetched.
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.base_url)
                   else route.abort())
        page.goto(f"{server.base_url}/user/login/")
        page.fill("input[name=email]", user.email)
        page.fill("input[name=password]", user.password)
        page.click("button[type=submit]")
        page.wait_for_function("() => !location.pathname.startsWith('/user/login')")
        page.goto(f"{server.base_url}/projects/{project_id}/data?task={task_id}")
        page.wait_for_selector(".lsf-richtext__line")
        for word, label in (("दिल्ली", "LOC"), ("𝔘nicode", "PER")):
            page.get_by_text(label, exact=True).first.click()
            box = page.evaluate(
                """(word) => {
                    // A labelled region splits the line's text node, so look in each piece.
                    const line = document.querySelector('.lsf-richtext__line');
                    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
                    let node = walker.nextNode();
                    while (node && !node.data.includes(word)) node = walker.nextNode();
                    const at = node.data.indexOf(word);
                    const range = document.createRange();
                    range.setStart(node, at);
                    range.setEnd(node, at + word.length);
                    const r = range.getBoundingClientRect();
                    return {x: r.left, y: r.top + r.height / 2, w: r.width};
                }""",
                word,
            )
            page.mouse.move(box["x"] + 0.5, box["y"])
            page.mouse.down()
            page.mouse.move(box["x"] + box["w"] / 2, box["y"], steps=4)
            page.mouse.move(box["x"] + box["w"] - 0.5, box["y"], steps=4)
            page.mouse.up()
            page.wait_for_timeout(500)
        page.get_by_role("button", name="Submit").click()
        page.wait_for_selector(".lsf-richtext__line")
        page.wait_for_timeout(1000)
    finally:
        context.close()

    (annotation,) = client.pull_annotations(server.base_url, server.api_key, project_id, task_type="span")
    assert annotation.annotator_email == user.email
    assert [(text[s["start"] : s["end"]], s["label"]) for s in annotation.value] == [
        ("दिल्ली", "LOC"), ("𝔘nicode", "PER")
    ]
    # UTF-16 offsets would have been 2 and 4 higher; LS wrote Python's own string indices.
    assert [s["start"] for s in annotation.value] == [text.index("दिल्ली"), text.index("𝔘nicode")]
    assert annotation.lead_time > 0
