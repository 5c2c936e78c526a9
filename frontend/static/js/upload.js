// Upload with a progress bar: sends the form with XMLHttpRequest so upload.onprogress can fill the
// <progress>, then opens the job page the server answers with. Without JavaScript the form posts
// as usual and the server redirects to the same job page.
(function () {
  "use strict";

  function part(form, role) { return form.querySelector('[data-role="' + role + '"]'); }

  function show(form, percent, status) {
    var bar = part(form, "upload-bar");
    part(form, "upload-progress").hidden = false;
    if (percent !== null) {
      bar.value = percent;
      bar.textContent = percent + "%";
      part(form, "upload-percent").textContent = percent + "%";
    }
    if (status) { part(form, "upload-status").textContent = status; }
  }

  function replaceForm(form, html) {
    // The server answered with the page and its form errors (or the version an identical upload
    // already is): show that form in place of ours.
    // Parsed in a <template>, whose content is inert and in no document: the answer's style
    // elements carry another page's nonce, which this page's Content-Security-Policy would refuse.
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var fresh = holder.content.querySelector("form[data-upload-form]");
    if (!fresh) {
      show(form, null, "The upload failed. Reload the page and try again.");
      return;
    }
    form.replaceWith(document.importNode(fresh, true));
    var alert = document.querySelector("form[data-upload-form] [role=alert]");
    if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-upload-form]") || !window.FormData) { return; }
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        show(form, Math.round(100 * e.loaded / e.total), "Uploading…");
      }
    };
    xhr.upload.onload = function () { show(form, 100, "Uploaded. Checking the file…"); };
    xhr.onload = function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      if (xhr.status === 200 && type.indexOf("application/json") === 0) {
        var answer = JSON.parse(xhr.responseText);
        show(form, 100, "Accepted. Opening the job…");
        window.location.assign(answer.redirect);
      } else if (xhr.status === 400 || xhr.status === 409) {
        // 409: the upload is identical to a version; the answer's form names it, with a link.
        replaceForm(form, xhr.responseText);
      } else if (xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
        window.location.assign(xhr.responseURL);
      } else {
        show(form, null, "The upload failed (" + xhr.status + "). Try again.");
        if (button) { button.disabled = false; }
      }
    };
    xhr.onerror = function () {
      show(form, null, "The connection was lost during the upload. Try again.");
      if (button) { button.disabled = false; }
    };
    show(form, 0, "Starting the upload…");
    xhr.send(new FormData(form));
  });
})();
