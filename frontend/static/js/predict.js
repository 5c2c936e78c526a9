// The deployment page's "Try it": sends the JSON in the box to the prediction endpoint as the
// signed-in member (session cookie + CSRF token) and shows the answer.
document.querySelectorAll("form[data-predict]").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = form.querySelector("[data-testid=predict-result]");
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    out.textContent = "…";
    try {
      const response = await fetch(form.dataset.predict, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
        body: form.querySelector("textarea").value,
      });
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON: shown as it came */ }
      out.textContent = `${response.status}\n${shown}`;
    } catch (error) {
      out.textContent = `The request failed: ${error}`;
    }
  });
});
