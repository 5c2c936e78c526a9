// Renders every figure embedded as JSON next to its container (see the plotly_figure tag).
(function () {
  "use strict";
  function draw() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("script[data-plotly-for]").forEach(function (node) {
      var target = document.getElementById(node.getAttribute("data-plotly-for"));
      if (!target) { return; }
      var figure = JSON.parse(node.textContent);
      window.Plotly.newPlot(target, figure.data, figure.layout,
        { responsive: true, displaylogo: false });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else { draw(); }
})();
