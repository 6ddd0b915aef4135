// Shared helpers for the pages. Every piece of user text reaches the DOM
// through textContent (el() below), never through innerHTML.
"use strict";

window.Ledger = (function () {
  // el("a", {href: "/x", class: "y"}, "text", childNode, ...)
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });

  function formatTime(value) {
    const date = value instanceof Date ? value : new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : dateTimeFormat.format(date);
  }

  function formatDuration(milliseconds) {
    let minutes = Math.max(0, Math.floor(milliseconds / 60000));
    const days = Math.floor(minutes / 1440);
    minutes -= days * 1440;
    const hours = Math.floor(minutes / 60);
    minutes -= hours * 60;
    const parts = [];
    if (days) parts.push(days + " d");
    if (days || hours) parts.push(hours + " h");
    parts.push(minutes + " min");
    return parts.join(" ");
  }

  function pad(number) { return String(number).padStart(2, "0"); }

  // A Date as the value of an <input type="datetime-local"> (local time).
  function toLocalInput(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  // "2026-11-24T08:40" (local) -> "2026-11-24T08:40:00+01:00": RFC 3339 with
  // the offset the browser's zone has at that moment. null when malformed.
  function localInputToRfc3339(value) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
    if (!match) return null;
    const date = new Date(+match[1], +match[2] - 1, +match[3], +match[4], +match[5], +(match[6] || 0));
    if (Number.isNaN(date.getTime())) return null;
    const offset = -date.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    const absolute = Math.abs(offset);
    return match[1] + "-" + match[2] + "-" + match[3] + "T" + match[4] + ":" + match[5] + ":" + (match[6] || "00") +
      sign + pad(Math.floor(absolute / 60)) + ":" + pad(absolute % 60);
  }

  function dateToRfc3339(date) {
    return localInputToRfc3339(toLocalInput(date) + ":" + pad(date.getSeconds()));
  }

  // A signed-in page carries its session's CSRF token in
  // <meta name="csrf-token">; every request that changes something sends it.
  function csrfToken() {
    const meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  async function fetchJson(url, options) {
    const settings = Object.assign({ headers: { Accept: "application/json" } }, options || {});
    const method = (settings.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD" && csrfToken()) {
      settings.headers = Object.assign({}, settings.headers, { "X-CSRF-Token": csrfToken() });
    }
    const response = await fetch(url, settings);
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    return { status: response.status, ok: response.ok, body: body };
  }

  // Subscribes to the ledger's event stream after `afterSeq`. EventSource
  // reconnects by itself and resumes with Last-Event-ID; `onStatus` hears
  // "live" or "disconnected".
  function subscribe(afterSeq, onEvent, onStatus) {
    const source = new EventSource("/api/v1/events/stream?after=" + encodeURIComponent(afterSeq));
    source.onopen = () => onStatus("live");
    source.onerror = () => onStatus("disconnected");
    source.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      onEvent(event);
    };
    // Leaving the page ends the stream from this side first, so that the
    // browser never sees it cut off half-way while the next page loads.
    // A page brought back from the back/forward cache has no stream and may
    // be stale: it loads afresh.
    window.addEventListener("pagehide", () => source.close(), { once: true });
    window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });
    return source;
  }

  // <time datetime=...> elements rendered by the server in UTC or the
  // submitter's offset are shown in the reader's zone; the original stays
  // in the title.
  function localizeTimes(root) {
    for (const node of (root || document).querySelectorAll("time[datetime]")) {
      const original = node.getAttribute("datetime");
      const date = new Date(original);
      if (Number.isNaN(date.getTime())) continue;
      node.title = original;
      node.textContent = formatTime(date);
    }
  }

  // A plain form marked data-local-times (the maintenance form) posts its
  // datetime-local fields as RFC 3339 with the offset the browser's zone has
  // at each of those times; without this script the server takes them as
  // UTC. Its <time> elements are shown in the reader's zone.
  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-local-times]")) {
      document.documentElement.classList.add("js");
      localizeTimes(document);
      form.addEventListener("submit", () => {
        for (const input of form.querySelectorAll("input[type=datetime-local]")) {
          const value = localInputToRfc3339(input.value);
          if (!value) continue;
          const sent = el("input", { type: "hidden", name: input.name, value });
          input.disabled = true;
          form.append(sent);
        }
      });
    }
  });

  return { el, formatTime, formatDuration, toLocalInput, localInputToRfc3339, dateToRfc3339, fetchJson, subscribe,
    localizeTimes };
})();
