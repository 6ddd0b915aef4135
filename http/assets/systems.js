// The systems page (/systems): the catalog as a table, from
// GET /api/v1/systems, and, for admins, the forms that define, update,
// merge (alias) and retire systems, posted as JSON to POST /api/v1/systems
// with the session's CSRF token (common.js: fetchJson). The service's error
// is shown next to the form that was sent. Every name, group, owner and
// description reaches the page as text (el()).
"use strict";

(function () {
  const { el, fetchJson } = window.Ledger;

  const table = document.querySelector("#system-table tbody");
  const pageError = document.getElementById("systems-error");
  if (!table) return;

  function showPageError(message) {
    pageError.textContent = message;
    pageError.hidden = !message;
  }

  // Groups in the catalog's order (ignoring case), systems without a group
  // last; by name within a group.
  function byGroupThenName(a, b) {
    const groupA = (a.group || "").toLowerCase();
    const groupB = (b.group || "").toLowerCase();
    if (groupA !== groupB) {
      if (!groupA) return 1;
      if (!groupB) return -1;
      return groupA < groupB ? -1 : 1;
    }
    return a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0;
  }

  function renderTable(systems) {
    const sorted = systems.slice().sort(byGroupThenName);
    const rows = sorted.map((system) => el("tr", { class: system.retired ? "system-retired" : "" },
      el("th", { scope: "row", class: "system-name" }, system.name),
      el("td", { class: "system-group" }, system.group || "—"),
      el("td", { class: "system-owner" }, system.owner || "—"),
      el("td", { class: "system-description multiline" }, system.description || ""),
      el("td", { class: "system-aliases" }, (system.aliases || []).join(", ")),
      el("td", { class: "system-retired-cell" }, system.retired ? "retired" : "")));
    if (!rows.length) {
      rows.push(el("tr", {}, el("td", { colspan: 6, class: "empty" },
        "No systems yet: they are defined here, or by the first incident that names one.")));
    }
    table.replaceChildren(...rows);
    const names = document.getElementById("catalog-names");
    if (names) names.replaceChildren(...sorted.map((system) => el("option", { value: system.name })));
  }

  // Reads the catalog and shows it. After a change, `atLeastSeq` is the
  // change's event: the service answers a change once it is durable, and its
  // read model applies it a moment later, so the page asks again (for up to
  // about five seconds) until the catalog it reads includes that event.
  async function loadCatalog(atLeastSeq = 0) {
    let answer;
    for (let attempt = 0; ; ++attempt) {
      try {
        answer = await fetchJson("/api/v1/systems");
      } catch (failure) {
        showPageError("Cannot reach the service to read the catalog.");
        return;
      }
      if (!answer.ok || !answer.body || !Array.isArray(answer.body.systems)) {
        const error = answer.body && answer.body.error;
        showPageError("Cannot read the catalog: " + (error ? error.message : "the service answered " + answer.status));
        return;
      }
      if (!(answer.body.applied_seq < atLeastSeq) || attempt >= 50) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    showPageError("");
    renderTable(answer.body.systems);
  }

  function newSubmissionId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "systems-" + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // One form of the page: its fields are its inputs; empty ones are left
  // out (an update keeps what they would have changed).
  function wireForm(form) {
    const errorBox = form.querySelector(".form-error");
    const resultBox = form.querySelector(".form-result");
    const button = form.querySelector("button[type=submit]");
    let submissionId = newSubmissionId();

    function clear() {
      errorBox.textContent = "";
      errorBox.hidden = true;
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    }

    function showError(field, message) {
      const input = field ? form.elements[field] : null;
      const label = input ? form.querySelector("label[for='" + input.id + "']") : null;
      errorBox.textContent = (label ? label.textContent + ": " : field ? field + ": " : "") + message;
      errorBox.hidden = false;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear();
      resultBox.hidden = true;
      const body = { action: form.dataset.action };
      for (const input of form.querySelectorAll("input[name], textarea[name]")) {
        const value = input.value.trim();
        if (value) body[input.name] = value;
      }
      for (const input of form.querySelectorAll("[required]")) {
        if (!body[input.name]) {
          showError(input.name, "required");
          return;
        }
      }
      body.submission_id = submissionId;
      button.disabled = true;
      try {
        const answer = await fetchJson("/api/v1/systems", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
        });
        if (answer.status === 201) {
          form.reset();
          submissionId = newSubmissionId();
          await loadCatalog(answer.body.seq);
          resultBox.textContent = "Recorded: " + (answer.body.system || body.name) + " (event " + answer.body.seq + ").";
          resultBox.hidden = false;
          return;
        }
        const error = answer.body && answer.body.error;
        if (error) showError(error.field, error.message);
        else showError("", "The service answered " + answer.status + "; nothing was recorded.");
      } catch (failure) {
        showError("", "Cannot reach the service; nothing was recorded. Try again.");
      } finally {
        button.disabled = false;
      }
    });
  }

  document.documentElement.classList.add("js");
  for (const form of document.querySelectorAll("form.system-form")) wireForm(form);
  loadCatalog().then(() => { document.body.dataset.ready = "true"; });
})();
