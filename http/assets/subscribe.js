// The subscription form, enhanced: posts JSON to
// /api/v1/subscriptions/requests and shows the answer on the page. Without
// this script the form posts its fields and the server answers a page.
"use strict";

(function () {
  const { fetchJson } = window.Ledger;
  const form = document.getElementById("subscribe-form");
  if (!form) return;
  const resultBox = document.getElementById("subscribe-result");
  const errorBox = document.getElementById("subscribe-error");
  const submitButton = form.querySelector("button[type=submit]");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    resultBox.hidden = true;
    submitButton.disabled = true;
    const systems = form.elements.systems.value.split(",").map((name) => name.trim()).filter((name) => name);
    try {
      const answer = await fetchJson(form.getAttribute("action"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ email: form.elements.email.value, systems: systems }),
      });
      if (answer.status === 202 && answer.body) {
        // textContent: the server's text stays text.
        resultBox.textContent = answer.body.message;
        resultBox.hidden = false;
        form.reset();
      } else {
        const error = answer.body && answer.body.error;
        errorBox.textContent = error ? error.message : "The request failed (HTTP " + answer.status + ").";
        errorBox.hidden = false;
      }
    } catch (failure) {
      errorBox.textContent = "The service could not be reached: " + failure.message;
      errorBox.hidden = false;
    } finally {
      submitButton.disabled = false;
    }
  });
})();
