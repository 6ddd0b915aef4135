// The dashboard: a timeline (timeline.js) of the incidents in a date range (partial
// and degraded ones in their own colours) and of the maintenance windows
// (hatched blue), a banner of the windows ongoing or due in the next 7
// days, a sortable table of the incidents, per-system availability bars
// (planned and degraded days in their own colours), all kept live through
// the ledger's event stream (/api/v1/events/stream). Systems go by the
// catalog (/api/v1/systems): spellings that are one system (any case, or a
// spelling merged into a name) share a row under the catalog's name, the
// filter offers the catalog by group (and a group itself), and matches
// through it. Without the catalog, spellings that differ only in case are
// still one system.
"use strict";

(function () {
  const { el, formatTime, formatDuration, toLocalInput, dateToRfc3339, fetchJson, subscribe } = window.Ledger;

  const HOUR = 3600 * 1000;
  const DAY = 24 * HOUR;
  const QUICK_RANGES = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "90d": 90 * DAY };
  const DEFAULT_RANGE = "7d";
  const PAGE_LIMIT = 1000;
  const PAGES_MAX = 20;
  const ONGOING_REFRESH_MS = 30 * 1000;
  const AVAILABILITY_DAYS = 90;
  const SEVERITY_RANK = { minor: 1, major: 2, critical: 3 };
  const UPCOMING = 7 * DAY;  // the banner lists windows starting this soon

  const state = {
    relative: DEFAULT_RANGE,  // a quick range that slides with now, or null for fixed from/to
    from: null,
    to: null,
    groupByIncident: false,
    incidents: new Map(),     // ticket -> incident JSON (GET /api/v1/incidents/{ticket})
    windows: new Map(),       // MNT-n -> window JSON (GET /api/v1/maintenance), cancelled ones left out
    search: "",               // the search box: words every shown incident or window holds
    system: "",               // the system filter ("" for all): a system, or a group of the catalog
    catalog: null,            // GET /api/v1/systems, indexed (indexCatalog); null: not loaded
    sortKey: "started_at",
    sortDescending: true,
  };

  let timeline = null;

  // ---------------------------------------------------------------- the range

  function readRangeFromUrl() {
    const params = new URLSearchParams(location.search);
    state.groupByIncident = params.get("rows") === "incident";
    state.search = (params.get("q") || "").slice(0, 200);
    state.system = params.get("system") || "";
    const from = params.get("from");
    const to = params.get("to");
    const range = params.get("range");
    if (from || to) {
      const fromDate = from ? new Date(from) : null;
      const toDate = to ? new Date(to) : null;
      if ((fromDate && Number.isNaN(fromDate.getTime())) || (toDate && Number.isNaN(toDate.getTime()))) {
        showRangeError("The range in the address is not a valid date; showing the last 7 days.");
      } else {
        state.relative = null;
        state.from = fromDate || new Date(toDate.getTime() - 7 * DAY);
        state.to = toDate || new Date(fromDate.getTime() + 7 * DAY);
        if (state.to <= state.from) {
          showRangeError("The end of the range must be after its start; showing the last 7 days.");
          state.relative = DEFAULT_RANGE;
        }
        return;
      }
    }
    state.relative = QUICK_RANGES[range] ? range : DEFAULT_RANGE;
  }

  function currentWindow() {
    if (state.relative) {
      const now = Date.now();
      return { from: new Date(now - QUICK_RANGES[state.relative]), to: new Date(now) };
    }
    return { from: state.from, to: state.to };
  }

  function writeRangeToUrl() {
    const params = new URLSearchParams();
    if (state.relative) {
      params.set("range", state.relative);
    } else {
      params.set("from", dateToRfc3339(state.from));
      params.set("to", dateToRfc3339(state.to));
    }
    if (state.groupByIncident) params.set("rows", "incident");
    if (state.search) params.set("q", state.search);
    if (state.system) params.set("system", state.system);
    history.replaceState(null, "", "/?" + params.toString());
  }

  function showRangeError(message) {
    const box = document.getElementById("range-error");
    box.textContent = message;
    box.hidden = !message;
  }

  function syncRangeInputs() {
    const window_ = currentWindow();
    document.getElementById("range-from").value = toLocalInput(window_.from);
    document.getElementById("range-to").value = toLocalInput(window_.to);
    document.getElementById("group-by-incident").checked = state.groupByIncident;
    document.getElementById("filter-text").value = state.search;
    for (const link of document.querySelectorAll("[data-range]")) {
      if (link.dataset.range === state.relative) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
  }

  // ---------------------------------------------------------------- filters

  // ---------------------------------------------------------------- systems

  // How the service compares system names: ASCII case folded.
  function fold(text) {
    return String(text || "").replace(/[A-Z]/g, (letter) => letter.toLowerCase());
  }

  // The catalog's answer, indexed: every folded name and merged spelling to
  // its system, and the groups (folded -> as written).
  function indexCatalog(body) {
    const bySpelling = new Map();
    const groups = new Map();
    for (const system of body.systems) {
      if (typeof system.name !== "string") continue;
      bySpelling.set(fold(system.name), system);
      if (system.group) groups.set(fold(system.group), system.group);
    }
    // An alias never hides a name of the catalog.
    for (const system of body.systems) {
      for (const alias of system.aliases || []) {
        if (!bySpelling.has(fold(alias))) bySpelling.set(fold(alias), system);
      }
    }
    return { systems: body.systems, bySpelling, groups };
  }

  function systemOf(spelling) {
    return state.catalog ? state.catalog.bySpelling.get(fold(spelling)) || null : null;
  }

  // One key per system: its catalog name folded (through merged spellings),
  // or the spelling folded when the catalog does not know it.
  function keyOf(spelling) {
    const system = systemOf(spelling);
    return fold(system ? system.name : spelling);
  }

  // The name a row or the filter shows for a spelling.
  function displayOf(spelling) {
    const system = systemOf(spelling);
    return system ? system.name : spelling;
  }

  // A filter entry that names a group of the catalog and no system.
  function isGroup(entry) {
    return Boolean(state.catalog && !systemOf(entry) && state.catalog.groups.has(fold(entry)));
  }

  // Whether the filter entry covers a system an incident names: the same
  // system, or a group the system belongs to (as the service decides).
  function covers(entry, spelling) {
    if (keyOf(entry) === keyOf(spelling)) return true;
    if (!isGroup(entry)) return false;
    const system = systemOf(spelling);
    return Boolean(system && system.group && fold(system.group) === fold(entry));
  }

  function namesSystem(systems) {
    if (!state.system) return true;
    return (systems || []).some((system) => covers(state.system, system));
  }

  // Loads the catalog; a failure leaves the one already loaded (or none:
  // the dashboard then goes by spellings). Answers whether it was read.
  async function loadCatalog() {
    let answer;
    try {
      answer = await fetchJson("/api/v1/systems");
    } catch (error) {
      return false;
    }
    if (!answer.ok || !answer.body || !Array.isArray(answer.body.systems)) return false;
    state.catalog = indexCatalog(answer.body);
    return true;
  }

  // Every word of the search box is in one of the texts (ignoring case).
  function matchesSearch(texts) {
    const words = state.search.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return true;
    const haystack = texts.filter(Boolean).join("\n").toLowerCase();
    return words.every((word) => haystack.includes(word));
  }

  function incidentShown(incident) {
    return namesSystem(incident.systems) && matchesSearch([incident.ticket, incident.title, incident.description,
      incident.engineer, (incident.systems || []).join(" "), (incident.systems || []).map(displayOf).join(" "),
      incident.link, incident.severity, incident.impact]);
  }

  function windowShown(window) {
    return namesSystem(window.systems) && matchesSearch([window.window, window.title, window.description,
      (window.systems || []).join(" "), (window.systems || []).map(displayOf).join(" ")]);
  }

  function shownIncidents() {
    return Array.from(state.incidents.values()).filter(incidentShown);
  }

  // The system filter offers the catalog by group (<optgroup>: the group
  // itself first, then its systems; systems without a group last), leaving
  // out retired systems unless an incident or window loaded names them,
  // and any system of the incidents, windows and availability bars the
  // catalog does not know. It keeps the one chosen.
  function renderSystemChoices() {
    const select = document.getElementById("filter-system");
    const used = new Map();  // key -> name shown, of every system named in range
    const use = (spelling) => { if (spelling && !used.has(keyOf(spelling))) used.set(keyOf(spelling), displayOf(spelling)); };
    for (const incident of state.incidents.values()) (incident.systems || []).forEach(use);
    for (const window of state.windows.values()) (window.systems || []).forEach(use);
    if (availabilityShown) availabilityShown.systems.forEach((row) => use(row.system));
    const groups = new Map();  // folded group -> { name, systems: [names] }
    const ungrouped = new Map();  // key -> name
    if (state.catalog) {
      for (const system of state.catalog.systems) {
        const key = fold(system.name);
        if (system.retired && !used.has(key)) continue;
        if (!system.group) {
          ungrouped.set(key, system.name);
          continue;
        }
        const group = fold(system.group);
        if (!groups.has(group)) groups.set(group, { name: state.catalog.groups.get(group), systems: [] });
        groups.get(group).systems.push(system.name);
      }
    }
    const grouped = new Set(Array.from(groups.values()).flatMap((group) => group.systems.map(fold)));
    for (const [key, name] of used) if (!grouped.has(key)) ungrouped.set(key, name);
    if (state.system && !isGroup(state.system) && !grouped.has(keyOf(state.system))) {
      ungrouped.set(keyOf(state.system), displayOf(state.system));
    }
    const byName = (a, b) => a.localeCompare(b);
    // What is offered, in order: [kind, name], kind "group" (an <optgroup>),
    // "all" (the group itself), "member" (of the last group) or "system".
    const offered = [];
    for (const group of Array.from(groups.values()).sort((a, b) => byName(a.name, b.name))) {
      offered.push(["group", group.name]);
      // A group named like a system is that system when chosen.
      if (!systemOf(group.name)) offered.push(["all", group.name]);
      for (const name of group.systems.sort(byName)) offered.push(["member", name]);
    }
    for (const name of Array.from(ungrouped.values()).sort(byName)) offered.push(["system", name]);
    const signature = JSON.stringify(offered);
    if (select.dataset.offered !== signature) {
      const children = [el("option", { value: "" }, "all systems")];
      let group = null;
      for (const [kind, name] of offered) {
        if (kind === "group") {
          group = el("optgroup", { label: name });
          children.push(group);
        } else if (kind === "all") {
          group.append(el("option", { value: name, class: "group-option" }, "all of " + name));
        } else if (kind === "member") {
          group.append(el("option", { value: name }, name));
        } else {
          children.push(el("option", { value: name }, name));
        }
      }
      select.replaceChildren(...children);
      select.dataset.offered = signature;
    }
    select.value = chosenOption(select);
  }

  // The option of the filter's entry: its group, or its system.
  function chosenOption(select) {
    if (!state.system) return "";
    const values = Array.from(select.options).map((option) => option.value).filter(Boolean);
    if (isGroup(state.system)) return values.find((value) => isGroup(value) && fold(value) === fold(state.system)) || "";
    return values.find((value) => !isGroup(value) && keyOf(value) === keyOf(state.system)) || "";
  }

  // ---------------------------------------------------------------- incidents

  function periodsOf(incident) {
    const periods = incident.periods && incident.periods.length
      ? incident.periods : [{ started_at: incident.started_at, ended_at: incident.ended_at }];
    return periods.map((period) => ({
      start: new Date(period.started_at),
      end: period.ended_at ? new Date(period.ended_at) : null,
    }));
  }

  // Same rule as the API: a period overlaps [from, to); an ongoing one runs on.
  function overlaps(incident, window_) {
    return periodsOf(incident).some((period) => {
      const end = period.end ? period.end.getTime() : Infinity;
      const start = period.start.getTime();
      if (start === end) return start >= window_.from.getTime() && start < window_.to.getTime();
      return start < window_.to.getTime() && end > window_.from.getTime();
    });
  }

  // Loads the incidents of the range into state.incidents; answers the
  // applied_seq of the first page (every event after it is still to come
  // through the event stream), or null when the list could not be read.
  async function loadIncidents() {
    const window_ = currentWindow();
    const found = new Map();
    let cursor = null;
    let appliedSeq = null;
    for (let page = 0; page < PAGES_MAX; ++page) {
      const params = new URLSearchParams({
        from: window_.from.toISOString(),
        // A sliding range also shows what opens after the page loaded.
        to: new Date(window_.to.getTime() + (state.relative ? DAY : 0)).toISOString(),
        limit: String(PAGE_LIMIT),
      });
      if (cursor) params.set("cursor", cursor);
      const answer = await fetchJson("/api/v1/incidents?" + params.toString());
      if (!answer.ok) {
        showRangeError(answer.body && answer.body.error ? answer.body.error.message : "Cannot load incidents.");
        break;
      }
      if (appliedSeq === null && Number.isInteger(answer.body.applied_seq)) appliedSeq = answer.body.applied_seq;
      for (const incident of answer.body.incidents) found.set(incident.ticket, incident);
      cursor = answer.body.next_cursor;
      if (!cursor) break;
    }
    state.incidents = found;
    return appliedSeq;
  }

  // ---------------------------------------------------------------- maintenance

  // The windows of the range and of the next 7 days (not cancelled), and
  // the banner: those in progress and those scheduled to start within 7 days.
  async function loadWindows() {
    const window_ = currentWindow();
    const now = Date.now();
    const params = new URLSearchParams({
      from: window_.from.toISOString(),
      to: new Date(Math.max(window_.to.getTime(), now + UPCOMING)).toISOString(),
    });
    const answer = await fetchJson("/api/v1/maintenance?" + params.toString());
    if (!answer.ok) return null;
    const found = new Map();
    for (const window of answer.body.windows) {
      if (window.status !== "cancelled") found.set(window.window, window);
    }
    state.windows = found;
    renderBanner();
    return Number.isInteger(answer.body.applied_seq) ? answer.body.applied_seq : null;
  }

  // The run of a window as the timeline shows it: as run once started,
  // planned before; one in progress past its planned end runs to now.
  function spanOf(window) {
    const start = new Date(window.started_at || window.starts_at);
    let end = new Date(window.ended_at || window.ends_at);
    if (window.status === "in_progress" && !window.ended_at && end.getTime() < Date.now()) end = new Date();
    if (end <= start) end = new Date(start.getTime() + 60 * 1000);
    return { start, end };
  }

  function renderBanner() {
    const now = Date.now();
    const shown = Array.from(state.windows.values()).filter((window) =>
      window.status === "in_progress" ||
      (window.status === "scheduled" && new Date(window.starts_at).getTime() <= now + UPCOMING &&
        new Date(window.ends_at).getTime() > now));
    shown.sort((a, b) => spanOf(a).start - spanOf(b).start);
    const list = document.getElementById("maintenance-list");
    list.replaceChildren(...shown.map((window) => {
      const span = spanOf(window);
      const when = window.status === "in_progress"
        ? "in progress since " + formatTime(span.start) + ", planned to end " + formatTime(new Date(window.ends_at))
        : formatTime(span.start) + " – " + formatTime(span.end);
      return el("li", { class: "banner-window", dataset: { window: window.window } },
        el("strong", {}, window.window), " ", el("span", { class: "banner-title" }, window.title), " (",
        (window.systems || []).join(", "), "): ",
        el("span", { class: "badge maintenance-" + window.status }, window.status === "in_progress" ? "in progress" : "scheduled"),
        " ", when);
    }));
    document.getElementById("maintenance-banner").hidden = shown.length === 0;
  }

  function windowTooltip(window) {
    const span = spanOf(window);
    const facts = el("dl", {},
      el("dt", {}, "Systems"), el("dd", { class: "tip-systems" }, (window.systems || []).join(", ") || "—"),
      el("dt", {}, "Status"), el("dd", { class: "tip-status" }, window.status.replace("_", " ")),
      el("dt", {}, "Planned"), el("dd", { class: "tip-planned" },
        formatTime(new Date(window.starts_at)) + " – " + formatTime(new Date(window.ends_at))),
      el("dt", {}, "Actual"), el("dd", { class: "tip-actual" }, window.started_at
        ? formatTime(span.start) + " – " + (window.ended_at ? formatTime(span.end) : "ongoing") : "not started"),
      el("dt", {}, "Description"), el("dd", { class: "tip-description" }, window.description || "—"));
    return el("div", { class: "tip" },
      el("div", { class: "tip-heading" },
        el("strong", { class: "tip-title" }, window.title), " ", el("span", { class: "tip-ticket" }, window.window),
        " ", el("span", { class: "badge maintenance-" + window.status }, "planned maintenance")),
      facts);
  }

  async function refreshTicket(ticket) {
    const answer = await fetchJson("/api/v1/incidents/" + encodeURIComponent(ticket));
    if (answer.status === 404) {
      state.incidents.delete(ticket);
    } else if (answer.ok) {
      const window_ = currentWindow();
      if (state.relative) window_.to = new Date(Date.now() + DAY);
      if (overlaps(answer.body, window_)) state.incidents.set(ticket, answer.body);
      else state.incidents.delete(ticket);
    }
    render();
  }

  // ---------------------------------------------------------------- the timeline

  // An internal incident (only the help desk sees it), a published review
  // and open action items, as badges (text nodes only).
  function followUpMarks(incident) {
    const marks = [];
    if (incident.visibility === "internal") {
      marks.push(" ", el("span", { class: "badge visibility-internal mark-internal" }, "internal"));
    }
    if (incident.reviewed) marks.push(" ", el("span", { class: "badge review-published mark-reviewed" }, "reviewed"));
    if (incident.open_action_items > 0) {
      const count = incident.open_action_items;
      marks.push(" ", el("span", { class: "badge item-open mark-open-items" },
        count + (count === 1 ? " open action item" : " open action items")));
    }
    return marks;
  }

  function tooltip(incident, period) {
    const now = Date.now();
    const end = period.end
      ? formatTime(period.end)
      : "ongoing for " + formatDuration(now - period.start.getTime());
    const facts = el("dl", {},
      el("dt", {}, "Description"), el("dd", { class: "tip-description" }, incident.description || "—"),
      el("dt", {}, "Systems"), el("dd", { class: "tip-systems" }, (incident.systems || []).join(", ") || "—"),
      el("dt", {}, "Engineer"), el("dd", { class: "tip-engineer" }, incident.engineer || "—"),
      el("dt", {}, "Severity"), el("dd", { class: "tip-severity" }, incident.severity),
      el("dt", {}, "Impact"), el("dd", { class: "tip-impact" },
        el("span", { class: "badge impact-" + incident.impact }, incident.impact || "full")),
      el("dt", {}, "Phase"), el("dd", { class: "tip-phase" }, incident.phase || "—"),
      el("dt", {}, "Start"), el("dd", { class: "tip-start" }, formatTime(period.start)),
      el("dt", {}, "End"), el("dd", { class: "tip-end" }, end));
    return el("div", { class: "tip" },
      el("div", { class: "tip-heading" },
        el("strong", { class: "tip-title" }, incident.title),
        " ",
        el("span", { class: "tip-ticket" }, incident.ticket),
        ...followUpMarks(incident)),
      facts,
      el("div", { class: "tip-links" },
        el("a", { class: "tip-link", href: "/incidents/" + encodeURIComponent(incident.ticket) },
          "Open " + incident.ticket),
        // The help desk's own ticket, when the incident names one (only
        // http and https links are ever recorded; checked again here).
        /^https?:\/\//i.test(incident.link || "")
          ? el("a", { class: "tip-helpdesk-link", href: incident.link, target: "_blank", rel: "noopener noreferrer" },
            "Help-desk ticket")
          : null));
  }

  function tooltipOfItem(itemData) {
    if (itemData.window) {
      const window = state.windows.get(itemData.window);
      return window ? windowTooltip(window) : "";
    }
    const incident = state.incidents.get(itemData.ticket);
    const period = incident && periodsOf(incident)[itemData.period];
    return period ? tooltip(incident, period) : "";
  }

  // The chart's rows and bars. A bar carries `ticket`/`period` (or
  // `window`) for its tooltip; its label is text, never HTML.
  function buildTimelineData() {
    const now = Date.now();
    const items = [];
    const rowMap = new Map();
    // Per system (one row whatever case or merged spelling names it, under
    // the catalog's name), only the chosen system's or group's rows when
    // the filter names one.
    const shownAs = new Map();  // row key -> the name its row shows
    const rowKeysOf = (name, systems) => {
      if (state.groupByIncident) return [(name.startsWith("MNT-") ? "maintenance:" : "incident:") + name];
      if (!systems || !systems.length) return state.system ? [] : ["system:(no system)"];
      const keys = [];
      for (const system of systems) {
        if (state.system && !covers(state.system, system)) continue;
        const key = "system:" + keyOf(system);
        if (!shownAs.has(key)) shownAs.set(key, displayOf(system));
        if (!keys.includes(key)) keys.push(key);
      }
      return keys;
    };
    const addRow = (key, name, title) => {
      if (rowMap.has(key)) return;
      const text = state.groupByIncident ? name + " " + title : shownAs.get(key) || key.slice("system:".length);
      rowMap.set(key, { id: key, text });
    };
    for (const incident of shownIncidents()) {
      const rowKeys = rowKeysOf(incident.ticket, incident.systems);
      for (const key of rowKeys) addRow(key, incident.ticket, incident.title);
      const label = incident.ticket + " · " + incident.title;
      const className = "ticket-" + incident.ticket + " severity-" + incident.severity +
        " impact-" + (incident.impact || "full") + " phase-" + (incident.phase || "resolved");
      periodsOf(incident).forEach((period, index) => {
        const ongoing = !period.end;
        const start = period.start.getTime();
        const end = ongoing ? Math.max(now, start) : period.end.getTime();
        for (const key of rowKeys) {
          items.push({
            id: incident.ticket + "|" + index + "|" + key, row: key, start, end, label,
            className: className + (ongoing ? " ongoing" : ""),
            href: "/incidents/" + encodeURIComponent(incident.ticket),
            ticket: incident.ticket, period: index,
          });
        }
      });
    }
    const window_ = currentWindow();
    for (const window of state.windows.values()) {
      if (!windowShown(window)) continue;
      const span = spanOf(window);
      // The range, and the next 7 days whatever the range.
      if (span.start.getTime() >= Math.max(window_.to.getTime(), now + UPCOMING) ||
        span.end.getTime() <= window_.from.getTime()) continue;
      for (const key of rowKeysOf(window.window, window.systems)) {
        addRow(key, window.window, window.title);
        items.push({
          id: window.window + "|" + key, row: key, start: span.start.getTime(), end: span.end.getTime(),
          label: window.window + " · " + window.title,
          className: "maintenance maintenance-" + window.status + " window-" + window.window,
          href: null, window: window.window,
        });
      }
    }
    const rows = Array.from(rowMap.values()).sort((a, b) => {
      if (state.groupByIncident) {
        // Windows first, then incidents, newest first.
        const aWindow = a.id.startsWith("maintenance:");
        const bWindow = b.id.startsWith("maintenance:");
        if (aWindow !== bWindow) return aWindow ? -1 : 1;
        return Number(b.id.split("-").pop()) - Number(a.id.split("-").pop());
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    return { rows: rows.map(rowWithLabel), items };
  }

  function rowWithLabel(row) {
    const label = state.groupByIncident
      ? el("span", { title: row.text }, el("span", { class: "group-ticket" }, row.text.split(" ")[0]), " ",
        row.text.slice(row.text.indexOf(" ") + 1))
      : el("span", { title: row.text }, row.text);
    return { id: row.id, label };
  }

  // At most this tall (a CSS length), axis included; more rows scroll
  // inside the chart, and only the rows in view are drawn.
  const TIMELINE_HEIGHT_MAX = "65vh";

  // Draws the bars of state.incidents; `moveToRange` also moves the window
  // to the range chosen (otherwise a window the user zoomed or panned stays).
  function renderTimeline(moveToRange) {
    const { rows, items } = buildTimelineData();
    document.getElementById("timeline-empty").hidden = items.length > 0;
    if (!timeline) {
      timeline = new LedgerTimeline.Timeline(document.getElementById("timeline"), {
        maxHeight: TIMELINE_HEIGHT_MAX, zoomMin: 60 * 1000, zoomMax: 5 * 365 * DAY, tooltip: tooltipOfItem,
      });
      moveToRange = true;
    }
    let shown;
    if (moveToRange) {
      const window_ = currentWindow();
      const margin = (window_.to - window_.from) * 0.03;
      shown = { from: window_.from.getTime(), to: window_.to.getTime() + margin };
    }
    timeline.setData(rows, items, shown);
  }

  // ---------------------------------------------------------------- the table

  function sortValue(incident, key) {
    switch (key) {
      case "ticket": return Number(String(incident.ticket).split("-").pop());
      case "systems": return (incident.systems || []).join(", ").toLowerCase();
      case "severity": return SEVERITY_RANK[incident.severity] || 0;
      case "started_at": return new Date(incident.started_at).getTime();
      case "ended_at": return incident.ended_at ? new Date(incident.ended_at).getTime() : Infinity;
      default: return String(incident[key] || "").toLowerCase();
    }
  }

  function renderTable() {
    const body = document.querySelector("#incident-table tbody");
    const list = shownIncidents();
    list.sort((a, b) => {
      const left = sortValue(a, state.sortKey);
      const right = sortValue(b, state.sortKey);
      const order = left < right ? -1 : left > right ? 1 : 0;
      return state.sortDescending ? -order : order;
    });
    const rows = list.map((incident) => el("tr", { class: incident.status === "open" ? "row-ongoing" : "" },
      el("th", { scope: "row" },
        el("a", { href: "/incidents/" + encodeURIComponent(incident.ticket) }, incident.ticket)),
      el("td", {}, incident.title, ...followUpMarks(incident)),
      el("td", {}, (incident.systems || []).join(", ")),
      el("td", {}, incident.engineer),
      el("td", {}, el("span", { class: "badge severity-" + incident.severity }, incident.severity),
        ...(incident.impact && incident.impact !== "full"
          ? [" ", el("span", { class: "badge impact-" + incident.impact }, incident.impact)] : [])),
      el("td", {}, formatTime(incident.started_at)),
      el("td", {}, incident.ended_at ? formatTime(incident.ended_at)
        : "ongoing for " + formatDuration(Date.now() - new Date(incident.started_at).getTime()))));
    if (!rows.length) {
      rows.push(el("tr", {}, el("td", { colspan: 7, class: "empty" },
        state.search || state.system ? "No incidents in this range match the filter." : "No incidents in this range.")));
    }
    body.replaceChildren(...rows);
    for (const header of document.querySelectorAll("#incident-table th[aria-sort]")) {
      const key = header.querySelector("button").dataset.sort;
      header.setAttribute("aria-sort", key === state.sortKey ? (state.sortDescending ? "descending" : "ascending") : "none");
    }
  }

  function render(moveToRange) {
    renderSystemChoices();
    renderTimeline(moveToRange);
    renderTable();
  }

  // ---------------------------------------------------------------- availability

  // Downtime first (its shades of red), then degraded service, then planned
  // maintenance; a day with none of them is up.
  function dayClass(day) {
    if (day.downtime_seconds === 0) {
      if (day.degraded_seconds > 0) return "day day-degraded";
      if (day.planned_seconds > 0) return "day day-planned";
      return "day day-up";
    }
    if (day.availability >= 0.99) return "day day-down-1";
    if (day.availability >= 0.95) return "day day-down-2";
    if (day.availability >= 0.75) return "day day-down-3";
    return "day day-down-4";
  }

  function showDay(system, day, incidents) {
    const detail = document.getElementById("availability-detail");
    const dayStart = new Date(day.start).getTime();
    const dayEnd = new Date(day.end).getTime();
    const outages = day.tickets.map((ticket) => {
      const incident = incidents[ticket] || { title: "", periods: [] };
      const spans = incident.periods
        .map((period) => ({
          start: Math.max(new Date(period.started_at).getTime(), dayStart),
          end: Math.min(period.ended_at ? new Date(period.ended_at).getTime() : Date.now(), dayEnd),
        }))
        .filter((span) => span.end > span.start)
        .map((span) => formatTime(new Date(span.start)) + " – " + formatTime(new Date(span.end)));
      return el("li", {}, el("a", { href: "/incidents/" + encodeURIComponent(ticket) }, ticket), " ",
        incident.title, spans.length ? ": " + spans.join("; ") : "");
    });
    const windows = (day.windows || []).map((name) => {
      const window = (availabilityShown.windows || {})[name] || { title: "" };
      return el("li", {}, "Maintenance ", el("strong", {}, name), " ", window.title);
    });
    detail.replaceChildren(
      el("strong", {}, system + ", " + day.date + ": "),
      (day.availability * 100).toFixed(2) + "% available, down " + formatDuration(day.downtime_seconds * 1000) +
        (day.planned_seconds ? ", planned maintenance " + formatDuration(day.planned_seconds * 1000) : "") +
        (day.degraded_seconds ? ", degraded " + formatDuration(day.degraded_seconds * 1000) : ""),
      outages.length || windows.length ? el("ul", {}, ...outages, ...windows) : "");
  }

  // The answer the bars show; one listener for all of them (thousands on 90
  // days) finds a bar's day through its data-system and data-day.
  let availabilityShown = null;

  function showDayOfBar(event) {
    const bar = event.target instanceof Element ? event.target.closest("#availability .day") : null;
    if (!bar || !availabilityShown) return;
    const system = availabilityShown.systems[Number(bar.dataset.system)];
    const day = system && system.days[Number(bar.dataset.day)];
    if (day) showDay(system.system, day, availabilityShown.incidents);
  }

  async function loadAvailability() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    let answer = await fetchJson("/api/v1/availability?days=" + AVAILABILITY_DAYS + "&timezone=" + encodeURIComponent(zone));
    if (!answer.ok) answer = await fetchJson("/api/v1/availability?days=" + AVAILABILITY_DAYS + "&timezone=UTC");
    const box = document.getElementById("availability");
    if (!answer.ok) {
      box.replaceChildren(el("p", { class: "notice notice-error" }, "Cannot load availability."));
      return;
    }
    availabilityShown = answer.body;
    renderAvailability();
    renderSystemChoices();
  }

  // The bars of the system chosen, or of every system.
  function renderAvailability() {
    if (!availabilityShown) return;
    const systems = availabilityShown.systems.map((system, index) => ({ system, index }))
      .filter((row) => namesSystem([row.system.system]));
    document.getElementById("availability").replaceChildren(availabilityRows(systems));
  }

  // The rows of bars (3,600 on 40 systems) as one fragment, put into the
  // page at once: each bar is a clone of one prepared span, so the page
  // lays them out once, not once per bar.
  // `systems`: [{ system (of the answer), index (its place in the answer) }].
  function availabilityRows(systems) {
    const rows = document.createDocumentFragment();
    const barTemplate = el("span", { tabindex: 0, role: "img" });
    systems.forEach(({ system, index: systemIndex }) => {
      let down = 0;
      let total = 0;
      const bars = el("span", { class: "availability-days" });
      system.days.forEach((day, dayIndex) => {
        down += day.downtime_seconds;
        total += (Date.parse(day.end) - Date.parse(day.start)) / 1000;
        const bar = barTemplate.cloneNode(false);
        bar.className = dayClass(day);
        bar.setAttribute("aria-label", day.date + ": " + (day.availability * 100).toFixed(2) + "% available" +
          (day.planned_seconds ? ", planned maintenance" : "") + (day.degraded_seconds ? ", degraded" : "") +
          (day.tickets.length ? ", " + day.tickets.join(", ") : ""));
        bar.dataset.date = day.date;
        bar.dataset.system = systemIndex;
        bar.dataset.day = dayIndex;
        bars.append(bar);
      });
      rows.append(el("div", { class: "availability-row" },
        el("span", { class: "availability-system" }, system.system),
        bars,
        el("span", { class: "availability-total" }, total ? ((1 - down / total) * 100).toFixed(3) + "%" : "")));
    });
    if (!systems.length) {
      rows.append(el("p", { class: "empty" }, state.system ? "No figures for this system in the last 90 days."
        : "No systems have had an outage yet."));
    }
    return rows;
  }

  // ---------------------------------------------------------------- live

  function setLiveStatus(status) {
    const badge = document.getElementById("live-status");
    badge.className = "live live-" + status;
    badge.textContent = status === "live" ? "live" : "disconnected — reconnecting…";
  }

  let availabilityTimer = null;
  let catalogTimer = null;
  function onLedgerEvent(event) {
    if (String(event.type).startsWith("SYSTEM_")) {
      // A merge or a new name changes rows, the filter and the figures.
      clearTimeout(catalogTimer);
      catalogTimer = setTimeout(() => loadCatalog().then(() => { render(); renderAvailability(); }), 200);
    } else if (String(event.type).startsWith("MAINTENANCE_")) {
      loadWindows().then(() => render());
    } else if (!event.ticket || !String(event.type).startsWith("INCIDENT_")) {
      return;
    } else {
      refreshTicket(event.ticket);
    }
    clearTimeout(availabilityTimer);
    availabilityTimer = setTimeout(loadAvailability, 1000);
  }

  function refreshOngoing() {
    const anyOngoing = Array.from(state.incidents.values()).some((incident) => incident.status === "open") ||
      Array.from(state.windows.values()).some((window) => window.status === "in_progress");
    renderBanner();
    if (anyOngoing) render();
  }

  // ---------------------------------------------------------------- wiring

  function wireControls() {
    const availability = document.getElementById("availability");
    availability.addEventListener("mouseover", showDayOfBar);
    availability.addEventListener("focusin", showDayOfBar);
    document.getElementById("range-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const from = new Date(document.getElementById("range-from").value);
      const to = new Date(document.getElementById("range-to").value);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
        showRangeError("Enter both the start and the end of the range.");
        return;
      }
      if (to <= from) {
        showRangeError("The end of the range must be after its start.");
        return;
      }
      showRangeError("");
      state.relative = null;
      state.from = from;
      state.to = to;
      await applyRange();
    });
    for (const link of document.querySelectorAll("[data-range]")) {
      link.addEventListener("click", async (event) => {
        event.preventDefault();
        showRangeError("");
        state.relative = link.dataset.range;
        await applyRange();
      });
    }
    let searchTimer = null;
    document.getElementById("filter-text").addEventListener("input", (event) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => {
        state.search = event.target.value.slice(0, 200);
        writeRangeToUrl();
        render();
      }, 150);
    });
    document.getElementById("filter-system").addEventListener("change", (event) => {
      state.system = event.target.value;
      writeRangeToUrl();
      render();
      renderAvailability();
    });
    document.getElementById("group-by-incident").addEventListener("change", (event) => {
      state.groupByIncident = event.target.checked;
      writeRangeToUrl();
      render();
    });
    for (const button of document.querySelectorAll("#incident-table [data-sort]")) {
      button.addEventListener("click", () => {
        if (state.sortKey === button.dataset.sort) state.sortDescending = !state.sortDescending;
        else { state.sortKey = button.dataset.sort; state.sortDescending = false; }
        renderTable();
      });
    }
  }

  async function applyRange() {
    writeRangeToUrl();
    syncRangeInputs();
    await Promise.all([loadIncidents(), loadWindows(), loadCatalog()]);
    render(true);
  }

  async function start() {
    readRangeFromUrl();
    syncRangeInputs();
    wireControls();
    // The availability bars are asked for at once, beside the incident list:
    // the page is drawn when the slower of the two arrives, not after both.
    loadAvailability();
    // The stream from the list's applied_seq: every event after the list is
    // applied on top, so nothing committed in between is missed.
    // The stream starts after the older of the two lists.
    const windowsLoaded = loadWindows();
    const catalogLoaded = loadCatalog();
    let seq = await loadIncidents();
    await catalogLoaded;
    const windowsSeq = await windowsLoaded;
    if (seq !== null && windowsSeq !== null) seq = Math.min(seq, windowsSeq);
    if (seq === null) {
      const health = await fetchJson("/healthz");
      seq = health.ok ? health.body.head_seq : 0;
    }
    // The chart first; the table (below the fold, hundreds of rows with
    // their dates formatted) once the chart and the availability bars, if
    // they are in by then, have been painted.
    renderSystemChoices();
    renderTimeline(true);
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    renderTable();
    subscribe(seq, onLedgerEvent, setLiveStatus);
    writeRangeToUrl();
    setInterval(refreshOngoing, ONGOING_REFRESH_MS);
    document.body.dataset.ready = "true";
  }

  // A deferred script runs once the page is parsed: its elements are there.
  start();
})();
