// The help-desk form, enhanced: posts JSON to /api/v1/submissions, with
// times in the browser's zone sent as RFC 3339 with their offset, and shows
// the server's error next to the field it names. Without this script the
// form posts to /submit and the server renders the same errors.
"use strict";

(function () {
  const { el, localInputToRfc3339, fetchJson } = window.Ledger;

  // The fields are the inputs the server rendered (http/web.cc, from the
  // field table in ingest/fields.h), each in its own div.field; their kind is
  // read off the input: a datetime-local input is a time, an input tied to
  // the known-systems list is a comma-separated list, anything else is text.
  function fieldInputs() {
    return Array.from(form.querySelectorAll(".field input[name], .field textarea[name], .field select[name]"));
  }

  const form = document.getElementById("submission-form");
  if (!form) return;
  const resultBox = document.getElementById("form-result");
  const generalError = document.getElementById("form-error");
  const submitButton = form.querySelector("button[type=submit]");

  function action() {
    const checked = form.querySelector("input[name=action]:checked");
    return checked ? checked.value : "create";
  }

  // The ticket number is required for everything but create: say so before
  // anyone submits.
  function updateTicketRequirement() {
    const ticket = document.getElementById("f-ticket");
    const required = action() !== "create";
    ticket.required = required;
    ticket.closest(".field").classList.toggle("required", required);
    form.dataset.action = action();
  }

  function clearErrors() {
    for (const slot of form.querySelectorAll(".field-error")) {
      slot.textContent = "";
      slot.hidden = true;
    }
    for (const field of form.querySelectorAll(".has-error")) field.classList.remove("has-error");
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    generalError.textContent = "";
    generalError.hidden = true;
  }

  function showError(field, message) {
    const slot = field ? document.getElementById("error-" + field) : null;
    if (!slot) {
      generalError.textContent = (field ? field + ": " : "") + message;
      generalError.hidden = false;
      generalError.focus && generalError.focus();
      return;
    }
    slot.textContent = message;
    slot.hidden = false;
    const wrapper = slot.closest(".field");
    if (wrapper) wrapper.classList.add("has-error");
    const input = form.elements[field];
    if (input && input.setAttribute) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  function newSubmissionId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "form-" + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function collect() {
    const body = { action: action() };
    for (const input of fieldInputs()) {
      const name = input.name;
      if (input.type === "datetime-local") {
        const value = input.value;
        if (!value) continue;
        const converted = localInputToRfc3339(value);
        if (!converted) return { error: { field: name, message: name + " must be a date and time" } };
        body[name] = converted;
      } else if (input.hasAttribute("list")) {
        const items = (input.value || "").split(",").map((s) => s.trim()).filter(Boolean);
        if (items.length) body[name] = items;
      } else {
        const value = (input.value || "").trim();
        if (value) body[name] = value;
      }
    }
    body.submission_id = form.elements.submission_id.value;
    return { body };
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    resultBox.hidden = true;
    if (action() !== "create" && !form.elements.ticket.value.trim()) {
      showError("ticket", "ticket is required to " + action() + " an incident (e.g. INC-42)");
      return;
    }
    const collected = collect();
    if (collected.error) {
      showError(collected.error.field, collected.error.message);
      return;
    }
    submitButton.disabled = true;
    try {
      const answer = await fetchJson("/api/v1/submissions", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(collected.body),
      });
      if (answer.status === 201) {
        const ticket = answer.body.ticket;
        const href = "/incidents/" + encodeURIComponent(ticket);
        resultBox.replaceChildren(
          "Recorded ", el("a", { href: href, id: "result-link" }, ticket),
          " (event " + answer.body.seq + ", version " + answer.body.version + ").");
        resultBox.hidden = false;
        const kept = action();
        form.reset();
        form.querySelector("input[name=action][value=" + kept + "]").checked = true;
        if (kept !== "create") form.elements.ticket.value = ticket;
        form.elements.submission_id.value = newSubmissionId();
        updateTicketRequirement();
        return;
      }
      const error = answer.body && answer.body.error;
      if (error) showError(error.field, error.message);
      else showError("", "The service answered " + answer.status + "; nothing was recorded.");
    } catch (failure) {
      showError("", "Cannot reach the service; nothing was recorded. Try again.");
    } finally {
      submitButton.disabled = false;
    }
  }

  function addSystem(system) {
    const input = form.elements.systems;
    const current = input.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (!current.includes(system)) current.push(system);
    input.value = current.join(", ");
    input.focus();
  }

  document.documentElement.classList.add("js");
  for (const radio of form.querySelectorAll("input[name=action]")) radio.addEventListener("change", updateTicketRequirement);
  for (const chip of form.querySelectorAll(".system-chip")) chip.addEventListener("click", () => addSystem(chip.dataset.system));
  // Should the script's own submit ever fall through to the plain post, the
  // server still gets the offset of the browser's zone (as of now).
  const offset = localInputToRfc3339("2000-01-01T00:00");
  form.elements.utc_offset.value = offset ? offset.slice(19) : "Z";
  form.addEventListener("submit", submit);
  updateTicketRequirement();
  document.body.dataset.ready = "true";
})();
