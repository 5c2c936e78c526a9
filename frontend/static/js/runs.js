// A running grid search: the page is re-read every few seconds until every child job has ended
// (the server builds its table and chart; the reader's scroll position survives a reload).
(function () {
  "use strict";
  var sweep = document.getElementById("sweep");
  if (!sweep || sweep.getAttribute("data-running") !== "true") { return; }
  setTimeout(function () { window.location.reload(); }, 3000);
})();

// A running run's loss curve: polls the run's curves endpoint and redraws the figure and the
// diagnostics until the run ends. The figure keeps the reader's zoom (its layout's uirevision).
(function () {
  "use strict";
  var root = document.getElementById("run");
  var chart = document.getElementById("loss-chart");
  if (!root || !chart) { return; }
  var url = root.getAttribute("data-curves-url");
  var tones = { error: "danger", warning: "warn", ok: "ok", info: "info" };

  function findings(list) {
    var box = root.querySelector('[data-role="findings"]');
    if (!box) { return; }
    box.textContent = "";
    list.forEach(function (f) {
      var item = document.createElement("li");
      item.className = "warning";
      item.setAttribute("data-code", f.code);
      var badge = document.createElement("span");
      badge.className = "badge tone-" + (tones[f.severity] || "info");
      badge.textContent = f.severity.charAt(0).toUpperCase() + f.severity.slice(1);
      var text = document.createElement("span");
      text.className = "warning-text";
      text.textContent = f.message;
      item.appendChild(badge);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(text);
      box.appendChild(item);
    });
  }

  function render(payload) {
    if (window.Plotly && payload.figure) {
      window.Plotly.react(chart, payload.figure.data, payload.figure.layout,
        { responsive: true, displaylogo: false });
    }
    findings(payload.diagnostics || []);
    document.querySelectorAll('[data-role="run-status"]').forEach(function (badge) {
      badge.textContent = payload.status.charAt(0) + payload.status.slice(1).toLowerCase();
    });
    root.setAttribute("data-running", payload.running ? "true" : "false");
    var provisional = root.querySelector('[data-role="provisional"]');
    if (provisional) { provisional.hidden = !payload.running; }
    chart.setAttribute("data-points", payload.points.train + payload.points.validation);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (payload) {
        if (!payload) { setTimeout(poll, 5000); return; }
        render(payload);
        if (payload.running) { setTimeout(poll, 2000); } else {
          // The final metrics, parameters and seed are written as the run ends: show them.
          window.location.reload();
        }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
