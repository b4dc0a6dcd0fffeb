// The chain page: pan and zoom, details of the clicked node, live statistics.
// Numbers, labels, heat colours and edge widths follow chainc/viz/describe.py
// and chainc/viz/dot.py, so a live update reads as the picture chainc drew.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("chain-data").textContent);
  const view = document.getElementById("view");
  const svg = view.querySelector("svg");
  const details = document.getElementById("details");
  const status = document.getElementById("status");
  document.getElementById("chain-name").textContent = data.chain;

  // ------------------------------------------------------------ numbers and words

  function si(x, units) {
    for (const [unit, scale] of units) {
      const v = Number((x / scale).toPrecision(3));
      if (v >= 1) return String(v) + unit;
    }
    return null;
  }
  function fmtCount(n) {
    return n < 100000 ? n.toLocaleString("en-US") : si(n, [["G", 1e9], ["M", 1e6], ["k", 1e3]]);
  }
  function fmtRate(pps) {
    return si(pps, [[" Gpps", 1e9], [" Mpps", 1e6], [" kpps", 1e3]]) || pps.toFixed(0) + " pps";
  }
  function clip(text, width) {
    return text.length <= width ? text : text.slice(0, width - 1) + "\u2026";
  }
  function dropsLine(drops) {
    const nonzero = Object.entries(drops || {}).filter(([, n]) => n).map(([r, n]) => r + " " + fmtCount(n));
    return nonzero.length ? clip("drops: " + nonzero.join(", "), 32) : "no drops";
  }
  function cyclesPerPacket(s) {
    return s && s.cycle_samples ? s.cycles / s.cycle_samples : null;
  }
  function cyclesLine(cpp) {
    return cpp === null ? "- cyc/pkt" : cpp.toFixed(0) + " cyc/pkt";
  }
  function heatColour(share) {
    const heat = data.style.heat;
    return heat[Math.min(heat.length - 1, Math.floor(share * heat.length))];
  }
  function penWidth(count, busiest) {
    const maxPen = data.style.max_pen;
    return busiest ? Math.round((1 + (maxPen - 1) * count / busiest) * 100) / 100 : 1;
  }

  // ------------------------------------------------------------ statistics

  let stats = null;        // {elapsed_s, nodes: {id: node}, ports: [...]}
  let previous = null;     // the snapshot before it, for rates over the last interval
  const edgeBySvg = {};
  for (const e of data.edges) edgeBySvg[e.svg] = e;

  function indexed(raw) {
    const nodes = {};
    for (const n of raw.nodes || []) nodes[n.id] = n;
    return {elapsed_s: raw.elapsed_s, nodes: nodes, ports: raw.ports || []};
  }
  function edgeCount(snapshot, e) {
    const n = snapshot && snapshot.nodes[e.src];
    return n && n.out && n.out[e.out] !== undefined ? n.out[e.out] : 0;
  }
  // Packets per second: over the last interval when live, else over the whole run.
  function rateOf(count, before) {
    if (previous && stats.elapsed_s > previous.elapsed_s) {
      return Math.max(0, count - before) / (stats.elapsed_s - previous.elapsed_s);
    }
    return stats.elapsed_s ? count / stats.elapsed_s : 0;
  }
  function setLastTexts(group, lines) {
    const texts = group.querySelectorAll("text");
    lines.forEach((line, i) => {
      const t = texts[texts.length - lines.length + i];
      if (t) t.textContent = line;
    });
  }

  function drawStats() {
    let busiest = 0;
    for (const e of data.edges) busiest = Math.max(busiest, edgeCount(stats, e));
    for (const e of data.edges) {
      const group = document.getElementById(e.svg);
      if (!group) continue;
      const count = edgeCount(stats, e);
      const lines = [fmtCount(count) + " pkts", fmtRate(rateOf(count, edgeCount(previous, e)))];
      setLastTexts(group, lines.slice(0, e.stats_lines));
      let width = penWidth(count, busiest);
      if (e.ring !== null) width = Math.max(2, width);
      group.querySelectorAll("path, polygon").forEach((p) => p.setAttribute("stroke-width", width));
    }
    let hottest = 0;
    for (const [svgId, node] of Object.entries(data.nodes)) {
      if (node.kind === "nf") hottest = Math.max(hottest, cyclesPerPacket(stats.nodes[node.id]) || 0);
    }
    for (const [svgId, node] of Object.entries(data.nodes)) {
      const group = document.getElementById(svgId);
      if (node.kind !== "nf" || !group) continue;
      const s = stats.nodes[node.id];
      const cpp = cyclesPerPacket(s);
      const drops = dropsLine(s && s.drops);
      setLastTexts(group, [cyclesLine(cpp), drops]);
      const texts = group.querySelectorAll("text");
      texts[texts.length - 1].setAttribute("fill", drops === "no drops" ? data.style.text : data.style.drops_text);
      const fill = group.querySelector("path, polygon");
      if (fill) fill.setAttribute("fill", cpp !== null && hottest > 0 ? heatColour(cpp / hottest) : data.style.fill);
    }
  }

  function poll() {
    fetch(data.live.url, {cache: "no-store"})
      .then((r) => r.ok ? r.json() : r.text().then((t) => { throw new Error(t || r.statusText); }))
      .then((raw) => {
        // Rates are over the binary's last interval: a file it has not rewritten yet keeps them.
        if (!stats || raw.elapsed_s !== stats.elapsed_s) previous = stats;
        stats = indexed(raw);
        drawStats();
        showSelected();
        status.className = "";
        const elapsed = stats.elapsed_s ? ", run time " + stats.elapsed_s.toFixed(1) + " s" : "";
        status.textContent = "live: updated " + new Date().toLocaleTimeString() + elapsed;
      })
      .catch((err) => {
        status.className = "error";
        status.textContent = "live: waiting for statistics (" + err.message + ")";
      });
  }

  // ------------------------------------------------------------ details

  let selected = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function table(rows) {
    const t = el("table");
    for (const [k, v] of rows) {
      const tr = el("tr");
      tr.append(el("td", k), el("td", v));
      t.append(tr);
    }
    return t;
  }
  function section(title, rows) {
    if (rows.length) details.append(el("h3", title), table(rows));
  }
  function statsRows(s) {
    if (!s) return [];
    const rows = [["packets in", fmtCount(s.in)]];
    for (const [port, n] of Object.entries(s.out || {})) rows.push(["out " + port, fmtCount(n)]);
    for (const [reason, n] of Object.entries(s.drops || {})) rows.push(["drop " + reason, fmtCount(n)]);
    if (s.emitted) rows.push(["emitted", fmtCount(s.emitted)]);
    const cpp = cyclesPerPacket(s);
    if (cpp !== null) rows.push(["cycles/packet", cpp.toFixed(1)]);
    for (const [name, n] of Object.entries(s.counters || {})) rows.push([name, fmtCount(n)]);
    if (stats.elapsed_s) {
      const before = previous && previous.nodes[s.id] ? previous.nodes[s.id].in : 0;
      rows.push(["in rate", fmtRate(rateOf(s.in, before))]);
    }
    return rows;
  }

  function showNode(node) {
    details.replaceChildren(el("h2", node.id));
    if (node.kind === "nf") {
      details.append(el("p", node.type + (node.source ? " \u00b7 " + node.source : ""), "type"));
      if (node.doc) details.append(el("p", node.doc));
      if (node.description) {
        const more = el("details");
        more.append(el("summary", "more"), el("pre", node.description));
        details.append(more);
      }
      const where = [];
      if (node.scope.length) where.push(["sub-chain", node.scope.join(" / ")]);
      if (node.hints) where.push(["hints", node.hints]);
      if (node.stage) where.push(...stageRows(node.stage));
      section("placement", where);
      section("parameters", node.params);
    } else {
      const dir = node.kind === "port-in" ? "receive side of port " : "send side of port ";
      details.append(el("p", dir + node.name + (node.source ? " \u00b7 " + node.source : ""), "type"));
      const rows = node.binding ? [["default binding", node.binding]] : [];
      if (node.stage) rows.push(...stageRows(node.stage));
      section("port", rows);
    }
    if (stats) {
      section("statistics", statsRows(stats.nodes[node.id]));
      const port = stats.ports.find((p) => p.name === node.name && node.kind !== "nf");
      if (port) section("port counters", [["rx", fmtCount(port.rx || 0)], ["tx", fmtCount(port.tx || 0)],
                                          ["tx dropped", fmtCount(port.tx_dropped || 0)]]);
    }
  }
  function stageRows(stage) {
    const rows = [["stage", String(stage.index)], ["core", String(stage.core)]];
    if (stage.replicas > 1) rows.push(["replicas", String(stage.replicas)]);
    if (stage.rss) rows.push(["RSS", stage.rss]);
    return rows;
  }
  function showDrop(edge) {
    details.replaceChildren(el("h2", "drop"), el("p", "packets that " + edge.src + " sends to its output '"
                                                   + edge.out + "' are dropped here", "type"));
    if (stats) section("statistics", [["packets", fmtCount(edgeCount(stats, edge))]]);
  }
  function showSelected() {
    if (!selected) return;
    const node = data.nodes[selected.id];
    if (node) showNode(node);
    else showDrop(edgeBySvg["e" + selected.id.slice(1)]);
  }
  function select(group) {
    if (selected) selected.classList.remove("selected");
    selected = group;
    group.classList.add("selected");
    showSelected();
  }

  // ------------------------------------------------------------ pan and zoom

  const base = svg.viewBox.baseVal;
  const home = {x: base.x, y: base.y, w: base.width, h: base.height};
  let box = Object.assign({}, home);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  function apply() { svg.setAttribute("viewBox", [box.x, box.y, box.w, box.h].join(" ")); }
  function toSvg(x, y) {
    const p = svg.createSVGPoint();
    p.x = x; p.y = y;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  function zoom(factor, clientX, clientY) {
    const w = box.w / factor;
    if (w < home.w / 50 || w > home.w * 10) return;
    const p = toSvg(clientX, clientY);
    box = {x: p.x - (p.x - box.x) / factor, y: p.y - (p.y - box.y) / factor, w: w, h: box.h / factor};
    apply();
  }
  function zoomCentre(factor) {
    const r = svg.getBoundingClientRect();
    zoom(factor, r.left + r.width / 2, r.top + r.height / 2);
  }
  view.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 1.2 : 1 / 1.2, ev.clientX, ev.clientY);
  }, {passive: false});

  let drag = null;
  view.addEventListener("pointerdown", (ev) => {
    drag = {x: ev.clientX, y: ev.clientY, box: Object.assign({}, box), ctm: svg.getScreenCTM(),
            target: ev.target.closest ? ev.target.closest("g.node") : null, moved: false};
  });
  view.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) { drag.moved = true; view.setPointerCapture(ev.pointerId); view.classList.add("dragging"); }
    box = Object.assign({}, drag.box, {x: drag.box.x - dx / drag.ctm.a, y: drag.box.y - dy / drag.ctm.d});
    apply();
  });
  view.addEventListener("pointerup", () => {
    if (drag && !drag.moved && drag.target) select(drag.target);
    drag = null;
    view.classList.remove("dragging");
  });
  document.getElementById("zoom-in").addEventListener("click", () => zoomCentre(1.25));
  document.getElementById("zoom-out").addEventListener("click", () => zoomCentre(1 / 1.25));
  document.getElementById("fit").addEventListener("click", () => { box = Object.assign({}, home); apply(); });

  // ------------------------------------------------------------ start

  if (data.stats) stats = indexed(data.stats);
  if (data.live) {
    status.textContent = "live: waiting for statistics";
    poll();
    setInterval(poll, data.live.interval_ms);
  } else if (stats) {
    status.textContent = stats.elapsed_s ? "statistics over " + stats.elapsed_s.toFixed(3) + " s" : "statistics";
  }
})();
