// The live view's page: draws what the server pushes (server-sent events), sends button
// presses to /api/action. Vanilla JavaScript, no build step, nothing from the internet.
//
// Events from /events (see web/server.py):
//   "snapshot": {nodes: [...], slots: [[first, last, ownerId|null], ...], migrating, importing, current_epoch}
//   "timeline": {t, source: "view"|"trace"|"action", kind, text, node, fields}
"use strict";

const GRID = 128;            // 128 x 128 = 16384 slots
const CELL = 4;              // canvas pixels per slot
const TIMELINE_LIMIT = 1000; // entries kept on the page
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
                 "#9c755f", "#86bcb6", "#d4a6c8", "#8cd17d", "#f1ce63", "#a0cbe8", "#ffbe7d", "#bab0ac"];
const NO_OWNER = "#30343d";

const view = {
  snapshot: null,     // the latest snapshot, as received
  timeline: [],       // entries received, oldest first
  colours: new Map(), // node id -> colour, fixed once given so a colour always means one node
  colourOf(id) {
    if (!id) return NO_OWNER;
    if (!this.colours.has(id)) this.colours.set(id, PALETTE[this.colours.size % PALETTE.length]);
    return this.colours.get(id);
  },
  slotOwner(slot) {
    for (const [first, last, owner] of this.snapshot ? this.snapshot.slots : []) {
      if (slot >= first && slot <= last) return owner;
    }
    return null;
  },
};
window.liveView = view; // for the browser tests and the curious

const $ = (selector) => document.querySelector(selector);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function shortId(id) { return id ? id.slice(0, 8) : "–"; }

function addressOf(id) {
  const node = view.snapshot && view.snapshot.nodes.find((row) => row.id === id);
  return node ? node.address : shortId(id);
}

// ---- the nodes table -------------------------------------------------------------------

function renderNodes(snapshot) {
  // Colours are handed out in address order on first sight, so a fresh page and a
  // long-open one agree.
  for (const row of snapshot.nodes) view.colourOf(row.id);
  const body = $("#nodes tbody");
  body.replaceChildren(...snapshot.nodes.map(nodeRow));
  $("#node-count").textContent = snapshot.nodes.length;
  $("#current-epoch").textContent = snapshot.current_epoch;
  const select = $("#move-slot-target");
  const chosen = select.value;
  select.replaceChildren(...snapshot.nodes.filter((row) => row.role === "primary" && row.reachable !== false)
    .map((row) => element("option", { value: row.id, text: row.address })));
  if (chosen) select.value = chosen;
  // Addresses that gave no cluster view: a dead or paused node, or a wrong --port.
  const problems = $("#problems");
  problems.hidden = snapshot.problems.length === 0;
  problems.textContent = snapshot.problems.map(([address, error]) => `${address}: ${error}`).join("\n");
}

function nodeRow(row) {
  const classes = [];
  if (row.pfail_by.length) classes.push("pfail");
  if (row.fail_by.length) classes.push("fail");
  if (row.reachable === false) classes.push("unreachable");
  const flags = element("td");
  for (const flag of row.flags) {
    const kind = flag === "fail?" ? "pfail" : flag === "fail" ? "fail" : "";
    const by = flag === "fail?" ? row.pfail_by : flag === "fail" ? row.fail_by : [];
    const label = flag === "fail?" ? "PFAIL" : flag === "fail" ? "FAIL" : flag;
    flags.append(element("span", { class: `flag ${kind}`, text: label,
      title: by.length ? `flagged by ${by.map(addressOf).join(", ")}` : flag }));
  }
  if (row.reachable === false) flags.append(element("span", { class: "flag unreachable", text: "no answer",
    title: "the view's last poll of this node got no answer" }));
  let relation = "";
  if (row.role === "replica") relation = `replica of ${addressOf(row.primary_id)}`;
  else if (row.role === "primary") relation = `${row.slot_count} slots`;
  const actions = element("td", { class: "actions" },
    actionButton("kill", row, "kill", "PYREDIS.FAULT KILL (else SHUTDOWN NOSAVE): the node dies", "danger"),
    actionButton("pause", row, "pause", "PYREDIS.FAULT PAUSE <ms>: the node stops answering for a while", "danger"),
    actionButton("isolate", row, "isolate", "PYREDIS.FAULT ISOLATE: cut the node's bus links", "danger"));
  if (row.role === "replica") {
    actions.append(actionButton("failover", row, "failover", "CLUSTER FAILOVER [FORCE|TAKEOVER] on this replica"));
  }
  return element("tr", { class: classes.join(" "), "data-node-id": row.id, "data-role": row.role },
    element("td", {}, element("span", { class: "swatch", style: `background:${view.colourOf(row.id)}` })),
    element("td", { class: "mono address", text: row.address }),
    element("td", { class: "id", text: shortId(row.id), title: row.id }),
    element("td", { class: "role", text: row.role }),
    element("td", { text: relation }),
    flags,
    element("td", { class: "num", text: row.config_epoch }),
    element("td", { class: "num", text: row.current_epoch ?? "–" }),
    element("td", { class: "num", text: `${row.links_up}/${row.links_total}` }),
    element("td", { class: "num", text: row.repl_offset ?? "–" }),
    element("td", { text: row.cluster_state ?? "–" }),
    clockCell(row.clock),
    actions);
}

// The node's PYREDIS.CLOCK: empty when it refuses the command (test commands off).
function clockCell(clock) {
  if (!clock) return element("td", { class: "clock" });
  const scale = clock.scale === "1" ? "" : ` ×${clock.scale}`;
  const held = clock.held ? ` · ${clock.held} held` : "";
  return element("td", { class: `clock mode-${clock.mode}`, text: `${clock.mode}${scale}${held}`,
    title: `mode ${clock.mode}, scale ${clock.scale}, ${clock.held} bus message(s) held` });
}

function actionButton(action, row, label, title, extraClass = "") {
  const button = element("button", { "data-action": action, "data-node": row.id, title, class: extraClass, text: label });
  button.addEventListener("click", () => {
    const request = { action, node: row.id };
    if (action === "pause") request.ms = Number($("#pause-ms").value);
    if (action === "failover") request.option = $("#failover-option").value;
    sendAction(request, `${label} ${row.address}`);
  });
  return button;
}

// ---- the slot map ----------------------------------------------------------------------

function renderSlots(snapshot) {
  const canvas = $("#slot-map");
  const context = canvas.getContext("2d");
  for (const [first, last, owner] of snapshot.slots) {
    context.fillStyle = view.colourOf(owner);
    for (let slot = first; slot <= last;) {
      // Fill the rest of this row of the grid in one rectangle.
      const column = slot % GRID;
      const count = Math.min(last - slot + 1, GRID - column);
      context.fillRect(column * CELL, Math.floor(slot / GRID) * CELL, count * CELL, CELL);
      slot += count;
    }
  }
  context.strokeStyle = "#ffffff";
  context.lineWidth = 1;
  for (const [slot] of [...snapshot.migrating, ...snapshot.importing]) {
    context.strokeRect((slot % GRID) * CELL + 0.5, Math.floor(slot / GRID) * CELL + 0.5, CELL - 1, CELL - 1);
  }
  const legend = $("#slot-legend");
  const byOwner = new Map();
  for (const [first, last, owner] of snapshot.slots) {
    if (!byOwner.has(owner)) byOwner.set(owner, []);
    byOwner.get(owner).push(first === last ? `${first}` : `${first}-${last}`);
  }
  legend.replaceChildren(...[...byOwner.entries()].map(([owner, ranges]) =>
    element("li", { "data-owner": owner ?? "" },
      element("span", { class: "swatch", style: `background:${view.colourOf(owner)}` }),
      ` ${owner ? addressOf(owner) : "no owner"} `,
      element("span", { class: "ranges", text: ranges.join(" ") }))));
  for (const [slot, nodeId, target] of snapshot.migrating) {
    legend.append(element("li", { class: "migrating",
      text: `slot ${slot} migrating ${addressOf(nodeId)} → ${addressOf(target)}` }));
  }
  for (const [slot, nodeId, source] of snapshot.importing) {
    legend.append(element("li", { class: "importing",
      text: `slot ${slot} importing into ${addressOf(nodeId)} from ${addressOf(source)}` }));
  }
}

function slotAt(event) {
  const box = event.target.getBoundingClientRect();
  const column = Math.floor((event.clientX - box.left) / (box.width / GRID));
  const line = Math.floor((event.clientY - box.top) / (box.height / GRID));
  return Math.min(GRID - 1, Math.max(0, line)) * GRID + Math.min(GRID - 1, Math.max(0, column));
}

$("#slot-map").addEventListener("mousemove", (event) => {
  const slot = slotAt(event);
  const owner = view.slotOwner(slot);
  $("#slot-hover").textContent = `slot ${slot}: ${owner ? addressOf(owner) : "no owner"}`;
});
$("#slot-map").addEventListener("click", (event) => { $("#move-slot-number").value = slotAt(event); });

// ---- the timeline ----------------------------------------------------------------------

function timeOf(seconds) {
  const date = new Date(seconds * 1000);
  return date.toLocaleTimeString([], { hour12: false }) + "." + String(date.getMilliseconds()).padStart(3, "0");
}

function addTimelineEntry(entry) {
  view.timeline.push(entry);
  if (view.timeline.length > TIMELINE_LIMIT) view.timeline.shift();
  const list = $("#timeline");
  list.append(element("li", { class: `source-${entry.source} kind-${entry.kind}`, "data-kind": entry.kind,
                              "data-source": entry.source },
    element("span", { class: "time", text: timeOf(entry.t) }), entry.text));
  while (list.children.length > TIMELINE_LIMIT) list.firstChild.remove();
  applyFilters();
  if ($("#follow").checked) list.scrollTop = list.scrollHeight;
}

function applyFilters() {
  const hidden = new Set();
  if (!$("#show-commands").checked) hidden.add("action");
  if (!$("#show-trace").checked) hidden.add("trace");
  for (const item of $("#timeline").children) item.hidden = hidden.has(item.dataset.source);
}
for (const id of ["#show-commands", "#show-trace"]) $(id).addEventListener("change", applyFilters);

// ---- actions ---------------------------------------------------------------------------

async function sendAction(request, label) {
  const result = $("#action-result");
  result.className = "result";
  result.textContent = `${label}…`;
  try {
    const response = await fetch("/api/action", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) });
    const answer = await response.json();
    result.className = answer.ok ? "result ok" : "result error";
    result.textContent = answer.ok ? `${label}: done (${answer.steps.length} command(s))` : `${label}: ${answer.error}`;
  } catch (error) {
    result.className = "result error";
    result.textContent = `${label}: the view server did not answer (${error})`;
  }
}

$("#heal").addEventListener("click", () => sendAction({ action: "heal" }, "heal"));
$("#trace-on").addEventListener("click", () => sendAction({ action: "trace", on: true }, "trace on"));
$("#trace-off").addEventListener("click", () => sendAction({ action: "trace", on: false }, "trace off"));
$("#clock-scale-set").addEventListener("click", () => {
  const factor = Number($("#clock-scale").value);
  sendAction({ action: "scale", factor }, `scale ${factor}`);
});
$("#clock-freeze").addEventListener("click", () => sendAction({ action: "freeze" }, "freeze"));
$("#clock-resume").addEventListener("click", () => sendAction({ action: "resume" }, "resume"));
$("#clock-advance").addEventListener("click", () => {
  const ms = Number($("#clock-advance-ms").value);
  sendAction({ action: "advance", ms }, `advance ${ms} ms`);
});
$("#clock-step").addEventListener("click", () => sendAction({ action: "step" }, "step"));
$("#move-slot").addEventListener("submit", (event) => {
  event.preventDefault();
  const slot = Number($("#move-slot-number").value);
  const target = $("#move-slot-target").value;
  sendAction({ action: "move_slot", slot, target }, `move slot ${slot} to ${addressOf(target)}`);
});

// ---- the stream ------------------------------------------------------------------------

function connect() {
  const stream = new EventSource("/events");
  const badge = $("#stream-state");
  stream.addEventListener("open", () => {
    badge.className = "badge on";
    badge.textContent = "live";
    // Every stream (also after a reconnect) starts with the kept history: start afresh.
    view.timeline = [];
    $("#timeline").replaceChildren();
  });
  stream.addEventListener("error", () => { badge.className = "badge off"; badge.textContent = "reconnecting…"; });
  stream.addEventListener("snapshot", (event) => {
    view.snapshot = JSON.parse(event.data);
    renderNodes(view.snapshot);
    renderSlots(view.snapshot);
  });
  stream.addEventListener("timeline", (event) => addTimelineEntry(JSON.parse(event.data)));
}

connect();
