// Live job progress: polls the job's status endpoint and updates the bar, state and log. A person
// who was waiting on the page when the job succeeds is taken to what it produced (the status's
// result_url, given only for what they may see), unless that is the page they are on.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) { return; }
  var ended = ["succeeded", "failed", "cancelled", "dead"];
  var waiting = ended.indexOf(root.getAttribute("data-state")) === -1;
  var url = root.getAttribute("data-status-url");
  var el = function (role) { return root.querySelector('[data-role="' + role + '"]'); };
  var tones = { queued: "muted", running: "info", interrupted: "warn", succeeded: "ok",
                failed: "danger", cancelled: "muted", dead: "danger" };

  function render(job) {
    el("bar").value = job.progress;
    el("bar").textContent = job.progress + "%";
    el("percent").textContent = Math.round(job.progress) + "%";
    var state = el("state");
    state.textContent = job.state_label;
    state.className = "badge tone-" + (tones[job.state] || "muted");
    el("message").textContent = job.message;
    el("attempts").textContent = job.attempts;
    el("log").textContent = job.log;
    var download = el("download");
    if (download) { download.hidden = !job.download; }
    var cancel = el("cancel");
    if (cancel && job.terminal) { cancel.hidden = true; }
    if (job.result_url) { root.setAttribute("data-result-url", job.result_url); }
    if (waiting && job.state === "succeeded" && job.result_url &&
        new URL(job.result_url, window.location.href).pathname !== window.location.pathname) {
      window.location.assign(job.result_url);
      return;
    }
    root.setAttribute("data-state", job.state);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job) { setTimeout(poll, 3000); return; }
        render(job);
        if (!job.terminal) { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
