// The dashboard's timeline chart: rows (one per system, or per incident),
// bars on them (an incident's outage periods, maintenance windows), a time
// axis on top, a line at now, a tooltip on a bar, the wheel over the bars
// zooms around the pointer and a drag pans. Written for the dashboard's
// sizes: a busy week on 40 systems is ~730 bars, ninety days ~9,000.
//
// What it costs, and why it stays cheap on a big ledger:
// - setData computes each row's levels (bars that overlap in time stack
//   below each other) once per data change: O(n log n) in the bars.
// - A draw touches only the rows in view (the chart is at most `maxHeight`
//   high and scrolls; rows scrolled to are drawn then) and, in those rows,
//   only the bars that overlap the window. Bars are kept by id and reused:
//   a pan or zoom moves them, it does not rebuild them.
// - The chart's width is read once per resize (one layout), never per bar;
//   positions are computed, not measured.
//
// User text reaches the DOM only as text nodes (labels are given as nodes
// built with textContent, bar labels as strings), never as HTML. Styles are
// set through the CSSOM (element.style), which the pages' Content Security
// Policy (style-src 'self') allows.
"use strict";

window.LedgerTimeline = (function () {
  const MINUTE = 60 * 1000;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  const LEVEL_PITCH = 30;   // px from one level of bars to the next
  const BAR_HEIGHT = 24;    // px
  const ROW_PADDING = 4;    // px above the first level and below the last
  const OVERSCAN = 200;     // px of rows drawn beyond the scrolled view
  const BAR_WIDTH_MIN = 4;  // px: an instant (start == end) still shows
  const TICK_SPACING_MIN = 90;  // px between two labelled ticks at least
  const TOOLTIP_DELAY_MS = 100;
  const TOOLTIP_GRACE_MS = 300;  // the tooltip stays this long after the pointer left its bar
  const DRAG_THRESHOLD = 4;  // px a press moves before it is a drag, not a click

  // Tick steps, smallest first: [unit, count]. Ticks fall on local-time
  // boundaries of their unit (midnight, the first of the month, ...).
  const STEPS = [
    ["minute", 1], ["minute", 5], ["minute", 15], ["minute", 30],
    ["hour", 1], ["hour", 3], ["hour", 6], ["hour", 12],
    ["day", 1], ["day", 2], ["day", 7], ["month", 1], ["month", 3], ["year", 1], ["year", 5],
  ];
  const UNIT_MS = { minute: MINUTE, hour: HOUR, day: DAY, month: 30 * DAY, year: 365 * DAY };

  const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayOfMonth = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
  const monthOfYear = new Intl.DateTimeFormat(undefined, { month: "short", year: "numeric" });

  function div(className) {
    const node = document.createElement("div");
    node.className = className;
    return node;
  }

  // The first tick at or before `time` for a step, in local time.
  function floorToStep(time, unit, count) {
    const date = new Date(time);
    switch (unit) {
      case "minute": date.setSeconds(0, 0); date.setMinutes(date.getMinutes() - date.getMinutes() % count); break;
      case "hour": date.setMinutes(0, 0, 0); date.setHours(date.getHours() - date.getHours() % count); break;
      case "day":
        date.setHours(0, 0, 0, 0);
        // A week starts on Monday; two days from the first of the month.
        if (count === 7) date.setDate(date.getDate() - (date.getDay() + 6) % 7);
        else if (count > 1) date.setDate(date.getDate() - (date.getDate() - 1) % count);
        break;
      case "month": date.setHours(0, 0, 0, 0); date.setDate(1); date.setMonth(date.getMonth() - date.getMonth() % count); break;
      default: date.setHours(0, 0, 0, 0); date.setMonth(0, 1); date.setFullYear(date.getFullYear() - date.getFullYear() % count);
    }
    return date;
  }

  function nextTick(date, unit, count) {
    const next = new Date(date.getTime());
    switch (unit) {
      case "minute": next.setMinutes(next.getMinutes() + count); break;
      case "hour": next.setHours(next.getHours() + count); break;
      case "day": next.setDate(next.getDate() + count); break;
      case "month": next.setMonth(next.getMonth() + count); break;
      default: next.setFullYear(next.getFullYear() + count);
    }
    return next;
  }

  function tickLabel(date, unit) {
    if (unit === "minute" || unit === "hour") {
      return date.getHours() === 0 && date.getMinutes() === 0 ? dayOfMonth.format(date) : timeOfDay.format(date);
    }
    if (unit === "day") return dayOfMonth.format(date);
    if (unit === "month") return monthOfYear.format(date);
    return String(date.getFullYear());
  }

  // Levels of one row's bars: each bar on the first level whose last bar
  // ended by its start. Answers the number of levels (at least 1).
  function assignLevels(bars) {
    bars.sort((a, b) => a.start - b.start || a.end - b.end);
    const levelEnds = [];
    for (const bar of bars) {
      // An instant still takes room: it ends a moment after it starts.
      const end = Math.max(bar.end, bar.start + 1);
      let level = levelEnds.findIndex((levelEnd) => levelEnd <= bar.start);
      if (level < 0) { level = levelEnds.length; levelEnds.push(end); } else levelEnds[level] = end;
      bar.level = level;
    }
    return Math.max(1, levelEnds.length);
  }

  class Timeline {
    // options: maxHeight (a CSS length: the chart with its axis is at most
    // this high, more rows scroll inside it), zoomMin and zoomMax (ms),
    // tooltip(item) -> Node or null (built when the pointer rests on a bar).
    constructor(container, options) {
      this.options = options;
      this.rows = [];       // { id, label: Node, top, height, bars: [item] }
      this.window = { from: Date.now() - 7 * DAY, to: Date.now() };
      this.width = 0;       // px of the bars' track
      this.shownBars = new Map();   // id -> { node, signature }
      this.drawPending = false;

      this.root = div("tl-chart");
      this.axis = div("tl-axis");
      this.axisTicks = div("tl-axis-ticks");
      this.axis.append(div("tl-axis-corner"), this.axisTicks);
      this.body = div("tl-body");
      this.root.style.maxHeight = options.maxHeight;
      this.canvas = div("tl-canvas");
      this.labelset = div("tl-labelset");
      this.track = div("tl-track");
      this.grid = div("tl-grid");
      this.rowLines = div("tl-row-lines");
      this.bars = div("tl-bars");
      this.now = div("tl-now");
      this.track.append(this.grid, this.rowLines, this.bars, this.now);
      this.canvas.append(this.labelset, this.track);
      this.body.append(this.canvas);
      this.root.append(this.axis, this.body);
      this.tooltip = div("tl-tooltip");
      this.tooltip.hidden = true;
      this.tooltip.setAttribute("role", "tooltip");
      container.replaceChildren(this.root);
      document.body.append(this.tooltip);

      this.body.addEventListener("scroll", () => this.scheduleDraw(), { passive: true });
      this.track.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
      this.track.addEventListener("pointerdown", (event) => this.onPointerDown(event));
      this.track.addEventListener("click", (event) => this.onClick(event), true);
      this.track.addEventListener("mouseover", (event) => this.onOver(event));
      this.track.addEventListener("mouseout", (event) => this.onOut(event));
      // The tooltip follows the pointer over its bar; the pointer may then
      // cross to it (its links can be clicked) within TOOLTIP_GRACE_MS.
      this.track.addEventListener("mousemove", (event) => {
        const over = event.target instanceof Element ? event.target.closest(".tl-item") : null;
        if (over && over === this.tipFor) this.placeTooltip(event.clientX, event.clientY);
      });
      this.tooltip.addEventListener("mouseenter", () => clearTimeout(this.hideTimer));
      this.tooltip.addEventListener("mouseleave", (event) => {
        const to = event.relatedTarget instanceof Element ? event.relatedTarget.closest(".tl-item") : null;
        if (to !== this.tipFor) this.hideSoon();
      });
      if (window.ResizeObserver) {
        new ResizeObserver(() => { this.width = 0; this.scheduleDraw(); }).observe(this.track);
      }
    }

    // rows: [{ id, label: Node }] in their order; items: [{ id, row, start,
    // end (ms), label (text), className, href (or null) }]; shown: the window
    // to show ({ from, to } in ms), or undefined to keep the one shown (which
    // the user may have zoomed or panned). Draws at once.
    setData(rows, items, shown) {
      if (shown && shown.to > shown.from) this.window = { from: +shown.from, to: +shown.to };
      const byId = new Map();
      this.rows = rows.map((row) => {
        const entry = { id: row.id, label: row.label, bars: [], top: 0, height: 0 };
        byId.set(row.id, entry);
        return entry;
      });
      for (const item of items) {
        const row = byId.get(item.row);
        if (row) row.bars.push(item);
      }
      let top = 0;
      for (const row of this.rows) {
        const levels = assignLevels(row.bars);
        row.top = top;
        row.height = levels * LEVEL_PITCH + 2 * ROW_PADDING - (LEVEL_PITCH - BAR_HEIGHT);
        top += row.height;
      }
      this.canvas.style.height = top + "px";
      this.labelset.replaceChildren(...this.rows.map((row) => {
        const label = div("tl-label");
        label.style.top = row.top + "px";
        label.style.height = row.height + "px";
        label.append(row.label);
        return label;
      }));
      this.rowLines.replaceChildren(...this.rows.map((row) => {
        const line = div("tl-row-line");
        line.style.top = (row.top + row.height - 1) + "px";
        return line;
      }));
      // Every bar is drawn anew: its row or level may have changed.
      this.bars.replaceChildren();
      this.shownBars.clear();
      this.hideTooltip();
      this.draw();
    }

    setWindow(from, to) {
      if (!(to > from)) return;
      this.window = { from: +from, to: +to };
      this.draw();
    }

    getWindow() {
      return { start: new Date(this.window.from), end: new Date(this.window.to) };
    }

    scheduleDraw() {
      if (this.drawPending) return;
      this.drawPending = true;
      requestAnimationFrame(() => { this.drawPending = false; this.draw(); });
    }

    draw() {
      if (!this.width) this.width = this.track.clientWidth;
      const width = this.width;
      if (!width) return;
      const { from, to } = this.window;
      const scale = width / (to - from);
      this.drawAxis(from, to, scale);
      const now = Date.now();
      this.now.hidden = now < from || now > to;
      this.now.style.left = ((now - from) * scale) + "px";

      const viewTop = this.body.scrollTop - OVERSCAN;
      const viewBottom = this.body.scrollTop + (this.body.clientHeight || window.innerHeight) + OVERSCAN;
      const keep = new Set();
      const fragment = document.createDocumentFragment();
      for (const row of this.rows) {
        if (row.top + row.height < viewTop || row.top > viewBottom) continue;
        for (const bar of row.bars) {
          if (bar.end < from || bar.start > to) continue;
          keep.add(bar.id);
          // Clipped to a little beyond the track, so that a bar that began
          // before the window shows its label at the window's left edge.
          const left = Math.max(-2, (bar.start - from) * scale);
          const right = Math.min(width + 2, (bar.end - from) * scale);
          const signature = bar.className + "\u0000" + bar.label + "\u0000" + bar.href;
          let shown = this.shownBars.get(bar.id);
          if (!shown || shown.signature !== signature) {
            if (shown) shown.node.remove();
            shown = { node: this.barNode(bar), signature };
            this.shownBars.set(bar.id, shown);
            fragment.append(shown.node);
          }
          const style = shown.node.style;
          style.transform = "translate(" + left.toFixed(1) + "px," + (row.top + ROW_PADDING + bar.level * LEVEL_PITCH) + "px)";
          style.width = Math.max(BAR_WIDTH_MIN, right - left).toFixed(1) + "px";
        }
      }
      for (const [id, shown] of this.shownBars) {
        if (!keep.has(id)) { shown.node.remove(); this.shownBars.delete(id); }
      }
      this.bars.append(fragment);
    }

    barNode(bar) {
      const node = document.createElement(bar.href ? "a" : "div");
      node.className = "tl-item " + bar.className;
      if (bar.href) {
        node.href = bar.href;
        node.tabIndex = -1;  // the table below is the chart's accessible form
        node.draggable = false;
      }
      node.dataset.item = bar.id;
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = bar.label;
      node.append(label);
      node.timelineItem = bar;
      return node;
    }

    drawAxis(from, to, scale) {
      const span = to - from;
      const ticksMax = Math.max(1, this.width / TICK_SPACING_MIN);
      const [unit, count] = STEPS.find(([u, c]) => span / (UNIT_MS[u] * c) <= ticksMax) || STEPS[STEPS.length - 1];
      const ticks = [];
      const lines = [];
      for (let tick = floorToStep(from, unit, count); tick.getTime() <= to; tick = nextTick(tick, unit, count)) {
        const x = (tick.getTime() - from) * scale;
        if (x >= 0) {
          const label = div("tl-tick");
          label.style.left = x + "px";
          label.textContent = tickLabel(tick, unit);
          ticks.push(label);
        }
        const line = div("tl-grid-line");
        line.style.left = x + "px";
        lines.push(line);
        if (ticks.length > 200) break;
      }
      this.axisTicks.replaceChildren(...ticks);
      this.grid.replaceChildren(...lines);
    }

    // ------------------------------------------------------------ zoom, pan

    onWheel(event) {
      event.preventDefault();
      const box = this.track.getBoundingClientRect();
      const { from, to } = this.window;
      const at = from + (to - from) * Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
      let span = (to - from) * Math.pow(1.0015, delta);
      span = Math.min(this.options.zoomMax, Math.max(this.options.zoomMin, span));
      const ratio = (at - from) / (to - from);
      this.window = { from: at - span * ratio, to: at - span * ratio + span };
      this.hideTooltip();
      this.scheduleDraw();
    }

    onPointerDown(event) {
      if (event.button !== 0) return;
      const startX = event.clientX;
      const startY = event.clientY;
      const startWindow = this.window;
      const startScroll = this.body.scrollTop;
      this.dragged = false;
      const move = (moveEvent) => {
        const dx = moveEvent.clientX - startX;
        const dy = moveEvent.clientY - startY;
        if (!this.dragged && Math.abs(dx) + Math.abs(dy) < DRAG_THRESHOLD) return;
        if (!this.dragged) {
          this.dragged = true;
          this.track.setPointerCapture(event.pointerId);
          this.track.classList.add("tl-dragging");
          this.hideTooltip();
        }
        const shift = dx * (startWindow.to - startWindow.from) / (this.width || 1);
        this.window = { from: startWindow.from - shift, to: startWindow.to - shift };
        this.body.scrollTop = startScroll - dy;
        this.scheduleDraw();
      };
      const up = () => {
        this.track.removeEventListener("pointermove", move);
        this.track.removeEventListener("pointerup", up);
        this.track.removeEventListener("pointercancel", up);
        this.track.classList.remove("tl-dragging");
      };
      this.track.addEventListener("pointermove", move);
      this.track.addEventListener("pointerup", up);
      this.track.addEventListener("pointercancel", up);
    }

    // A drag that ends on a bar is not a click on it.
    onClick(event) {
      if (this.dragged) {
        event.preventDefault();
        event.stopPropagation();
        this.dragged = false;
      }
    }

    // ------------------------------------------------------------ tooltip

    onOver(event) {
      const node = event.target instanceof Element ? event.target.closest(".tl-item") : null;
      if (!node) return;
      clearTimeout(this.hideTimer);
      if (node === this.tipFor) return;
      this.tipFor = node;
      clearTimeout(this.tipTimer);
      this.tipTimer = setTimeout(() => {
        if (this.tipFor !== node || !node.isConnected) return;
        const content = this.options.tooltip ? this.options.tooltip(node.timelineItem) : null;
        if (!content) return;
        this.tooltip.replaceChildren(content);
        this.tooltip.hidden = false;
        this.placeTooltip(this.pointerX ?? event.clientX, this.pointerY ?? event.clientY);
      }, TOOLTIP_DELAY_MS);
    }

    onOut(event) {
      if (!this.tipFor) return;
      const to = event.relatedTarget instanceof Element ? event.relatedTarget : null;
      if (to && (to.closest(".tl-item") === this.tipFor || this.tooltip.contains(to))) return;
      this.hideSoon();
    }

    hideSoon() {
      clearTimeout(this.hideTimer);
      this.hideTimer = setTimeout(() => this.hideTooltip(), TOOLTIP_GRACE_MS);
    }

    hideTooltip() {
      clearTimeout(this.tipTimer);
      clearTimeout(this.hideTimer);
      this.tipFor = null;
      this.tooltip.hidden = true;
    }

    // Beside the pointer, kept inside the viewport.
    placeTooltip(x, y) {
      this.pointerX = x;
      this.pointerY = y;
      if (this.tooltip.hidden) return;
      const gap = 14;
      const box = this.tooltip.getBoundingClientRect();
      let left = x + gap;
      let top = y + gap;
      if (left + box.width > window.innerWidth - 4) left = Math.max(4, x - gap - box.width);
      if (top + box.height > window.innerHeight - 4) top = Math.max(4, y - gap - box.height);
      this.tooltip.style.left = left + "px";
      this.tooltip.style.top = top + "px";
    }
  }

  return { Timeline };
})();
