// A page that shows what a job produces (an export, a benchmark) reloads once, when its job ends,
// so the results (or the reason it failed) replace the progress bar. jobs.js keeps #job's
// data-state current; the page says with data-job-final whether it already shows the end.
(function () {
  "use strict";
  var job = document.getElementById("job");
  var page = document.querySelector("[data-job-final]");
  if (!job || !page || page.getAttribute("data-job-final") === "true") { return; }
  var ended = ["succeeded", "failed", "cancelled", "dead"];
  new MutationObserver(function () {
    if (ended.indexOf(job.getAttribute("data-state")) !== -1) { window.location.reload(); }
  }).observe(job, { attributes: true, attributeFilter: ["data-state"] });
})();
