// The labelling page: labels by keyboard or mouse, spans selected in the text, submit and skip
// through the labelling API, the next item swapped in without a reload; and the span editor of
// the "edit my annotation" page.
//
// Span offsets are Unicode code points of the item's text (what the server stores and Python
// indexes by). JavaScript strings count UTF-16 code units, in which an emoji is two: every
// offset read from the page is converted, and text is cut with Array.from, never with slice.
(function () {
  "use strict";

  // --- Spans: code points, rendering, reading the selection ------------------------------------

  function codePoints(text) { return Array.from(text); }

  // The number of code points in the first `units` UTF-16 code units of text. An offset that
  // falls inside a surrogate pair counts the whole character.
  function unitsToCodePoints(text, units) {
    var count = 0, i = 0;
    while (i < units && i < text.length) {
      i += text.codePointAt(i) > 0xffff ? 2 : 1;
      count += 1;
    }
    return count;
  }

  // The UTF-16 offset, within the container's text, of a selection boundary (node, offset). A
  // Range from the container's start to the boundary holds exactly the characters before it:
  // labels drawn by CSS (::after) are not text and are not counted.
  function boundaryUnits(container, node, offset) {
    if (!container.contains(node)) {
      var before = container.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_PRECEDING;
      return before ? 0 : container.textContent.length;
    }
    var range = document.createRange();
    range.setStart(container, 0);
    range.setEnd(node, offset);
    return range.toString().length;
  }

  // The selected part of the text as code-point offsets {start, end}, whitespace at either end
  // left out; null when nothing of the text is selected.
  function selectedSpan(container, text) {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) { return null; }
    var range = selection.getRangeAt(0);
    if (!range.intersectsNode(container)) { return null; }
    var startUnits = boundaryUnits(container, range.startContainer, range.startOffset);
    var endUnits = boundaryUnits(container, range.endContainer, range.endOffset);
    var start = unitsToCodePoints(text, Math.min(startUnits, endUnits));
    var end = unitsToCodePoints(text, Math.max(startUnits, endUnits));
    var chars = codePoints(text);
    while (start < end && /\s/u.test(chars[start])) { start += 1; }
    while (end > start && /\s/u.test(chars[end - 1])) { end -= 1; }
    return start < end ? { start: start, end: end } : null;
  }

  function overlapping(spans, span) {
    return spans.filter(function (s) { return s.start < span.end && span.start < s.end; });
  }

  // The text with a <mark> per span. Only text nodes and marks go in: the container's text stays
  // exactly the item's text, which is what the offsets are counted against.
  function renderSpans(container, text, spans, colours) {
    var chars = codePoints(text);
    var sorted = spans.slice().sort(function (a, b) { return a.start - b.start; });
    var position = 0;
    container.textContent = "";
    sorted.forEach(function (span) {
      if (span.start > position) {
        container.appendChild(document.createTextNode(chars.slice(position, span.start).join("")));
      }
      var mark = document.createElement("mark");
      mark.className = "span";
      mark.textContent = chars.slice(span.start, span.end).join("");
      mark.setAttribute("data-label", span.label);
      mark.setAttribute("data-start", String(span.start));
      mark.setAttribute("data-end", String(span.end));
      mark.title = span.label + " (click to remove)";
      mark.style.setProperty("--label-colour", colours[span.label] || "#64748b");
      container.appendChild(mark);
      position = span.end;
    });
    if (position < chars.length) {
      container.appendChild(document.createTextNode(chars.slice(position).join("")));
    }
  }

  function removeSpanAt(spans, mark) {
    var start = Number(mark.getAttribute("data-start"));
    return spans.filter(function (s) { return s.start !== start; });
  }

  function coloursOf(labels) {
    var colours = {};
    labels.forEach(function (label) { colours[label.name] = label.colour; });
    return colours;
  }

  // --- The edit page's span editor -----------------------------------------------------------------

  function startSpanEditor() {
    var root = document.getElementById("span-editor");
    var configNode = document.getElementById("span-editor-config");
    var field = document.getElementById("id_value");
    if (!root || !configNode || !field) { return; }
    var config = JSON.parse(configNode.textContent);
    var container = root.querySelector('[data-role="text"]');
    var status = root.querySelector('[data-role="status"]');
    var colours = coloursOf(config.labels);
    var spans;

    function say(text) { if (status) { status.textContent = text; } }
    function readField() {
      try {
        var value = JSON.parse(field.value || "[]");
        return Array.isArray(value) ? value.filter(function (s) { return s && typeof s === "object"; }) : [];
      } catch (error) {
        return null;
      }
    }
    function show() { renderSpans(container, config.text, spans, colours); }
    function store() { field.value = JSON.stringify(spans); show(); }

    spans = readField();
    if (spans === null) { spans = []; say("The spans below are not valid JSON; fix them or add spans here."); }
    show();
    field.addEventListener("input", function () {
      var value = readField();
      if (value !== null) { spans = value; show(); }
    });
    root.querySelectorAll(".label-button").forEach(function (button) {
      // Pressing the button must not clear the selection it applies to.
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      button.addEventListener("click", function () {
        var span = selectedSpan(container, config.text);
        if (!span) { say("Select some words of the text first."); return; }
        if (overlapping(spans, span).length) { say("That overlaps a span: remove it first (click it)."); return; }
        span.label = button.getAttribute("data-label");
        spans.push(span);
        window.getSelection().removeAllRanges();
        store();
        say("Added " + span.label + ".");
      });
    });
    container.addEventListener("click", function (event) {
      var mark = event.target.closest("mark.span");
      if (!mark || !window.getSelection().isCollapsed) { return; }
      spans = removeSpanAt(spans, mark);
      store();
      say("Span removed.");
    });
  }

  // --- The labelling page ----------------------------------------------------------------------------

  function startLabelling() {
    var root = document.getElementById("labelling");
    var configNode = document.getElementById("labelling-config");
    if (!root || !configNode) { return; }
    var config = JSON.parse(configNode.textContent);
    var taskType = config.taskType;
    var csrf = root.getAttribute("data-csrf");
    var colours = coloursOf(config.labels);
    var byKey = {};
    // A label's own shortcut wins over the digit of another label's position.
    config.labels.forEach(function (label) { if (label.digit) { byKey[label.digit] = label.name; } });
    config.labels.forEach(function (label) { if (label.shortcut) { byKey[label.shortcut.toLowerCase()] = label.name; } });

    var el = function (role) { return root.querySelector('[data-role="' + role + '"]'); };
    var workspace = document.getElementById("workspace");
    var empty = document.getElementById("queue-empty");
    var panel = document.getElementById("guideline-panel");
    var itemBox = el("item");
    var textBox = el("text");
    var image = el("image");
    var buttons = Array.prototype.slice.call(root.querySelectorAll(".label-button"));
    var guidelineToggles = Array.prototype.slice.call(document.querySelectorAll('[data-action="guideline"]'));

    var task = null;
    var chosen = [];   // single: at most one name; multi: the names switched on
    var spans = [];
    var busy = false;
    // Time on the item counts only while the page is visible.
    var spentMs = 0;
    var visibleSince = null;

    function say(text, tone) {
      var status = el("status");
      status.textContent = text || "";
      status.className = "label-status" + (tone ? " is-" + tone : "");
    }

    function setBusy(value) {
      busy = value;
      root.setAttribute("data-busy", value ? "true" : "false");
    }

    function startClock() {
      spentMs = 0;
      visibleSince = document.hidden ? null : performance.now();
    }
    function secondsSpent() {
      var total = spentMs + (visibleSince === null ? 0 : performance.now() - visibleSince);
      return total / 1000;
    }
    document.addEventListener("visibilitychange", function () {
      if (document.hidden && visibleSince !== null) {
        spentMs += performance.now() - visibleSince;
        visibleSince = null;
      } else if (!document.hidden && visibleSince === null) {
        visibleSince = performance.now();
      }
    });

    function renderChoice() {
      buttons.forEach(function (button) {
        var on = chosen.indexOf(button.getAttribute("data-label")) !== -1;
        button.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }

    function renderProgress(progress) {
      if (!progress) { return; }
      el("mine").textContent = progress.mine;
      el("left").textContent = progress.left_for_me;
      var percent = Number(progress.percent).toFixed(1);
      el("bar").value = progress.percent;
      el("bar").textContent = percent + "%";
      el("percent").textContent = percent + "%";
    }

    function renderOthers(others) {
      var section = el("others");
      var list = el("others-list");
      list.textContent = "";
      (others || []).forEach(function (other) {
        var li = document.createElement("li");
        var who = document.createElement("span");
        who.className = "muted";
        who.textContent = other.annotator + ": ";
        var what = document.createElement("span");
        what.setAttribute("dir", "auto");
        what.textContent = other.display;
        li.appendChild(who);
        li.appendChild(what);
        list.appendChild(li);
      });
      section.hidden = !(others && others.length);
    }

    function showTask(next) {
      task = next;
      chosen = [];
      spans = [];
      if (!task) {
        workspace.hidden = true;
        empty.hidden = false;
        return;
      }
      workspace.hidden = false;
      empty.hidden = true;
      el("key").textContent = task.key;
      if (image) {
        image.src = task.image_url;
        image.alt = "Item " + task.key;
      }
      if (textBox) {
        renderSpans(textBox, task.text, spans, colours);
        textBox.scrollTop = 0;
      }
      if (itemBox && !guidelineOpen()) { itemBox.focus({ preventScroll: true }); }
      // A phone shows the item and the labels on one screen; if the annotator had scrolled down
      // (to the status line, say), the next item starts at the top of the screen again.
      if (workspace.getBoundingClientRect().top < 0) { workspace.scrollIntoView({ block: "start" }); }
      renderChoice();
      renderOthers(task.others);
      if (config.guidelineVersion !== null && task.guideline_version !== config.guidelineVersion) {
        say("The guideline was updated to v" + task.guideline_version + ": reload the page to read it.", "warn");
      }
      startClock();
    }

    function post(url, body) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
        body: body === undefined ? "{}" : JSON.stringify(body)
      }).then(function (response) {
        if (response.status === 204) { return { status: 204, data: null }; }
        return response.json().then(
          function (data) { return { status: response.status, data: data }; },
          function () { return { status: response.status, data: null }; }
        );
      });
    }

    function problem(result) {
      var data = result.data || {};
      var messages = [];
      if (data.errors) {
        Object.keys(data.errors).forEach(function (field) {
          [].concat(data.errors[field]).forEach(function (message) {
            messages.push(typeof message === "string" ? message : JSON.stringify(message));
          });
        });
      }
      if (!messages.length && data.detail) { messages.push(data.detail); }
      if (!messages.length) { messages.push("The server answered " + result.status + "."); }
      return messages.join(" ");
    }

    function taskUrl(name) { return config.urls[name].replace("{id}", String(task.id)); }

    function fetchNext(done) {
      return post(config.urls.next).then(function (result) {
        if (result.status !== 200) { throw new Error(problem(result)); }
        renderProgress(result.data.progress);
        showTask(result.data.task);
        if (done) { say(done[0], done[1]); }
      });
    }

    function failed(error) {
      var unreachable = !error || error instanceof TypeError || !error.message;
      say(unreachable ? "The server could not be reached; try again." : error.message, "error");
    }

    // After a submit or a skip: a 409 means the item is no longer ours (the claim expired and
    // its slot went to someone else); say so, and move on rather than leave the annotator stuck.
    function advance(result, doneMessage) {
      if (result.status === 201 || result.status === 204) {
        return fetchNext([doneMessage, "ok"]);
      }
      if (result.status === 409) {
        return fetchNext([problem(result) + " Moved on to the next item.", "warn"]);
      }
      throw new Error(problem(result));
    }

    function currentValue() {
      if (taskType === "span") { return spans; }
      if (taskType === "multi") {
        // In the order of the campaign's labels, as the server stores it.
        return config.labels.map(function (l) { return l.name; })
          .filter(function (name) { return chosen.indexOf(name) !== -1; });
      }
      return chosen.length ? chosen[0] : null;
    }

    function submit() {
      if (busy || !task) { return; }
      var value = currentValue();
      if (value === null) { say("Choose a label first (press its key), then Enter.", "warn"); return; }
      setBusy(true);
      say("Saving…");
      post(taskUrl("annotation"), { value: value, seconds_spent: secondsSpent() })
        .then(function (result) { return advance(result, "Saved."); })
        .catch(failed)
        .then(function () { setBusy(false); });
    }

    function skip() {
      if (busy || !task) { return; }
      setBusy(true);
      say("Skipping…");
      post(taskUrl("skip"))
        .then(function (result) { return advance(result, "Skipped."); })
        .catch(failed)
        .then(function () { setBusy(false); });
    }

    function applyLabel(name) {
      if (busy || !task) { return; }
      if (taskType === "single") {
        chosen = [name];
        say(name + " chosen: Enter submits.");
      } else if (taskType === "multi") {
        var at = chosen.indexOf(name);
        if (at === -1) { chosen.push(name); } else { chosen.splice(at, 1); }
      } else {
        var span = selectedSpan(textBox, task.text);
        if (!span) { say("Select some words of the text first, then press the label.", "warn"); return; }
        if (overlapping(spans, span).length) {
          say("That overlaps a span you marked: click that span to remove it first.", "warn");
          return;
        }
        span.label = name;
        spans.push(span);
        window.getSelection().removeAllRanges();
        renderSpans(textBox, task.text, spans, colours);
        say("Marked " + name + ".");
      }
      renderChoice();
    }

    function guidelineOpen() { return panel && !panel.hidden; }
    function toggleGuideline(open) {
      if (!panel) { return; }
      var show = open === undefined ? panel.hidden : open;
      panel.hidden = !show;
      guidelineToggles.forEach(function (b) { b.setAttribute("aria-expanded", show ? "true" : "false"); });
      if (show) { panel.focus(); } else if (itemBox) { itemBox.focus({ preventScroll: true }); }
    }

    buttons.forEach(function (button) {
      if (taskType === "span") {
        button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      }
      button.addEventListener("click", function () { applyLabel(button.getAttribute("data-label")); });
    });
    root.querySelector('[data-action="submit"]').addEventListener("click", submit);
    root.querySelector('[data-action="skip"]').addEventListener("click", skip);
    guidelineToggles.forEach(function (b) { b.addEventListener("click", function () { toggleGuideline(); }); });
    if (panel) {
      panel.querySelector('[data-action="guideline-close"]').addEventListener("click", function () {
        toggleGuideline(false);
      });
    }
    if (textBox) {
      textBox.addEventListener("click", function (event) {
        var mark = event.target.closest("mark.span");
        if (!mark || busy || !window.getSelection().isCollapsed) { return; }
        spans = removeSpanAt(spans, mark);
        renderSpans(textBox, task.text, spans, colours);
        say("Span removed.");
      });
    }

    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
      var target = event.target;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
      var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      if (key === "Escape" && guidelineOpen()) {
        event.preventDefault();
        toggleGuideline(false);
        return;
      }
      if (Object.prototype.hasOwnProperty.call(byKey, key)) {
        event.preventDefault();
        applyLabel(byKey[key]);
      } else if (key === "g") {
        event.preventDefault();
        toggleGuideline();
      } else if (key === "Enter") {
        // A focused link or other control keeps its own Enter; the label buttons do not.
        var own = target && target.closest && target.closest("a, button, summary");
        if (own && !own.classList.contains("label-button")) { return; }
        event.preventDefault();
        submit();
      } else if (key === "s" || key === "Escape") {
        event.preventDefault();
        skip();
      }
    });

    showTask(config.task);
    renderProgress(config.progress);
  }

  startLabelling();
  startSpanEditor();
})();
