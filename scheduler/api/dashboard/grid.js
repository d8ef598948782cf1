// The node grid: one canvas, one cell per node coloured by its state, one set of mouse handlers
// (hover for a tooltip, click to pin a node's details), so 10,000 nodes cost no more DOM than 3.
import { $, RESOURCES, arr, conditionText, el, fmtAmount, num, obj, stateName, str } from "./util.js";

const COLORS = {
  READY: "#3fb970", OFFLINE: "#e5534b", DEGRADED: "#e5534b", PAUSED: "#7d8794",
  SCHEDULER_STOPPED: "#7d8794", DEPRECATED: "#3c4550", INITIAL_CLEANUP: "#4b8fe2",
  IMAGE_PULL: "#4b8fe2", OTHER: "#d6a23a",
};
const STATE_ORDER = ["READY", "INITIAL_CLEANUP", "IMAGE_PULL", "DEGRADED", "OFFLINE", "PAUSED",
  "SCHEDULER_STOPPED", "DEPRECATED"];

const model = {
  nodes: [],          // [{hostname, id, state, errors, warnings, resources, ...}] in grid order
  byHost: new Map(),  // hostname -> index in nodes
  pinned: null,       // hostname whose details stay shown
  hover: null,
};

export function loadNodes(nodes) {
  const list = [];
  for (const n of nodes) {
    const o = obj(n);
    const hostname = str(o.hostname);
    if (!hostname) continue;
    list.push({
      hostname, id: typeof o.id === "number" ? o.id : null, state: stateName(o.state),
      stateTitle: str(obj(o.state).title), errors: arr(o.errors), warnings: arr(o.warnings),
      resources: obj(o.resources), numOffers: num(o.num_offers), agentId: str(o.agent_id),
      running: num(obj(obj(o.job_executions).running).total),
    });
  }
  list.sort((a, b) => (a.id ?? Infinity) - (b.id ?? Infinity) || (a.hostname < b.hostname ? -1 : 1));
  model.nodes = list;
  model.byHost = new Map(list.map((n, i) => [n.hostname, i]));
  $("node-count").textContent = list.length;
  renderLegend();
  if (model.pinned) showNode(model.pinned, true);
}

function colorOf(node) { return COLORS[node.state] || COLORS.OTHER; }

export function renderLegend() {
  const counts = new Map();
  let warned = 0;
  for (const n of model.nodes) {
    const key = COLORS[n.state] ? n.state : "OTHER";
    counts.set(key, (counts.get(key) || 0) + 1);
    if (n.warnings.length && n.state === "READY") warned++;
  }
  const legend = $("node-legend");
  legend.replaceChildren();
  const keys = STATE_ORDER.filter((s) => counts.has(s)).concat(counts.has("OTHER") ? ["OTHER"] : []);
  for (const s of keys) {
    const item = el("span", "s-" + s, s + " " + counts.get(s));
    item.dataset.state = s;
    legend.append(item);
  }
  if (warned) legend.append(el("span", "warned", "with warnings " + warned));
  if (!model.nodes.length) legend.append(el("span", "dim", "none yet"));
}

const grid = { cell: 14, gap: 2, cols: 1, n: 0, width: 0 };

function layoutGrid() {
  const canvas = $("node-grid");
  const width = $("grid-wrap").clientWidth || 800;
  const n = Math.max(1, model.nodes.length);
  // Lay out again only when the node count or the width changed: a cell stays under the pointer.
  if (grid.n === n && grid.width === width) return;
  grid.n = n;
  grid.width = width;
  // Cells shrink with the node count so 10,000 nodes fit in about 420 px of height.
  const cell = Math.max(4, Math.min(18, Math.floor(Math.sqrt((width * 420) / n)) - 2));
  grid.gap = cell >= 8 ? 2 : 1;
  grid.cell = cell;
  grid.cols = Math.max(1, Math.floor((width + grid.gap) / (cell + grid.gap)));
  const rows = Math.ceil(n / grid.cols);
  const ratio = window.devicePixelRatio || 1;
  const height = rows * (cell + grid.gap);
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
}

export function drawGrid() {
  layoutGrid();
  const canvas = $("node-grid");
  const ctx = canvas.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // One fill style per colour: 10,000 rectangles cost a few milliseconds.
  const byColor = new Map();
  model.nodes.forEach((node, i) => {
    const c = colorOf(node);
    if (!byColor.has(c)) byColor.set(c, []);
    byColor.get(c).push(i);
  });
  for (const [color, indexes] of byColor) {
    ctx.fillStyle = color;
    for (const i of indexes) drawCell(ctx, i);
  }
  ctx.strokeStyle = "#d6a23a";
  ctx.lineWidth = grid.cell >= 8 ? 2 : 1;
  model.nodes.forEach((node, i) => {
    if (node.warnings.length && (node.state === "READY")) {
      const [x, y] = cellOrigin(i);
      ctx.strokeRect(x + 1, y + 1, grid.cell - 2, grid.cell - 2);
    }
  });
  // At 10,000 nodes a cell is 4 px: ring the broken ones so a single red cell still catches the eye.
  if (grid.cell < 8) {
    ctx.strokeStyle = COLORS.OFFLINE;
    ctx.lineWidth = 1;
    model.nodes.forEach((node, i) => {
      if (node.state === "OFFLINE" || node.state === "DEGRADED") {
        const [x, y] = cellOrigin(i);
        ctx.strokeRect(x - 1.5, y - 1.5, grid.cell + 3, grid.cell + 3);
      }
    });
  }
  const marked = model.pinned || model.hover;
  if (marked !== null && model.byHost.has(marked)) {
    const [x, y] = cellOrigin(model.byHost.get(marked));
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(x - 1, y - 1, grid.cell + 2, grid.cell + 2);
  }
}

function cellOrigin(i) {
  const step = grid.cell + grid.gap;
  return [(i % grid.cols) * step, Math.floor(i / grid.cols) * step];
}

function drawCell(ctx, i) {
  const [x, y] = cellOrigin(i);
  ctx.fillRect(x, y, grid.cell, grid.cell);
}

function nodeAt(event) {
  const rect = $("node-grid").getBoundingClientRect();
  const step = grid.cell + grid.gap;
  const col = Math.floor((event.clientX - rect.left) / step), row = Math.floor((event.clientY - rect.top) / step);
  if (col < 0 || col >= grid.cols || row < 0) return null;
  const node = model.nodes[row * grid.cols + col];
  return node ? node.hostname : null;
}

function nodeLines(node) {
  const lines = [["t-host", node.hostname], ["", (node.stateTitle || node.state) + (node.id !== null ? " · node " + node.id : "")]];
  lines.push(["dim", node.running + " jobs running · " + node.numOffers + " offers"]);
  const r = obj(node.resources);
  const usage = RESOURCES.filter((n) => n in r && num(obj(r[n]).total) > 0)
    .map((n) => n + " " + fmtAmount(n, obj(r[n]).running) + "/" + fmtAmount(n, obj(r[n]).total));
  if (usage.length) lines.push(["dim", "running " + usage.join(", ")]);
  for (const e of node.errors) lines.push(["err", conditionText(e)]);
  for (const w of node.warnings) lines.push(["wrn", conditionText(w)]);
  return lines;
}

function showNode(hostname, pinned) {
  const box = $("node-detail");
  const node = model.nodes[model.byHost.get(hostname)];
  box.replaceChildren();
  if (!node) { box.textContent = "Node " + hostname + " is no longer listed."; return; }
  box.className = "node-detail";
  for (const [cls, text] of nodeLines(node)) box.append(el("div", cls, text));
  if (pinned) box.append(el("div", "dim", "Pinned: click it again to release."));
}

function onMove(event) {
  const hostname = nodeAt(event);
  const tip = $("tooltip");
  if (hostname === null) { tip.hidden = true; if (model.hover !== null) { model.hover = null; drawGrid(); } return; }
  const node = model.nodes[model.byHost.get(hostname)];
  tip.replaceChildren(...nodeLines(node).map(([cls, text]) => el("div", cls, text)));
  tip.hidden = false;
  const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  const y = event.clientY + 14 + tip.offsetHeight > window.innerHeight ? event.clientY - tip.offsetHeight - 10 : event.clientY + 14;
  tip.style.left = x + "px";
  tip.style.top = y + "px";
  if (model.hover !== hostname) { model.hover = hostname; drawGrid(); }
}

function onClick(event) {
  const hostname = nodeAt(event);
  model.pinned = hostname === model.pinned ? null : hostname;
  if (model.pinned) showNode(model.pinned, true);
  drawGrid();
}

export function setNodeState(hostname, state) {
  const i = model.byHost.get(hostname);
  if (i === undefined) return false;
  model.nodes[i].state = state;
  model.nodes[i].stateTitle = "";
  return true;
}

export function nodeCount() { return model.nodes.length; }

export function nodeState(hostname) {
  const i = model.byHost.get(hostname);
  return i === undefined ? null : model.nodes[i].state;
}

export function cellCenter(hostname) {
  const i = model.byHost.get(hostname);
  if (i === undefined) return null;
  const [x, y] = cellOrigin(i);
  return { x: x + grid.cell / 2, y: y + grid.cell / 2, ratio: window.devicePixelRatio || 1 };
}

export function attachGrid() {
  const canvas = $("node-grid");
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", () => { $("tooltip").hidden = true; model.hover = null; drawGrid(); });
  canvas.addEventListener("click", onClick);
}
