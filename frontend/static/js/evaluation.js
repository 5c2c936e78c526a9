// A test evaluation page opened while its job runs reloads once the job ends, so the results
// (or the reason it failed) replace the progress bar. jobs.js keeps #job's data-state current.
(function () {
  "use strict";
  var job = document.getElementById("job");
  var page = document.querySelector("[data-evaluation-final]");
  if (!job || !page || page.getAttribute("data-evaluation-final") === "true") { return; }
  var ended = ["succeeded", "failed", "cancelled", "dead"];
  new MutationObserver(function () {
    if (ended.indexOf(job.getAttribute("data-state")) !== -1) { window.location.reload(); }
  }).observe(job, { attributes: true, attributeFilter: ["data-state"] });
})();
