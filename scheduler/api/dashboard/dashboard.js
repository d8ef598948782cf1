// scale-scheduler dashboard. Plain JS modules, no build step. Every string from the server is
// untrusted: it only ever reaches the page through textContent, never as markup.
import { $, RESOURCES, arr, conditionText, el, fmtAge, fmtAmount, fmtRate, num, obj, stateName, str } from "./util.js";
import { attachGrid, cellCenter, drawGrid, loadNodes, nodeCount, nodeState, renderLegend, setNodeState } from "./grid.js";

const STATUS_URL = "/v6/status/";
const QUEUE_URL = "/v6/queue/status/?page_size=1000";
const EVENTS_URL = "/v6/events/";
const POLL_MS = 5000;
const STALE_MS = 12000; // Scale's freshness threshold: older than this, its API answers 503
const HISTORY_MS = 10 * 60 * 1000; // sparklines keep the last ten minutes
const PARTS = ["running", "offered", "free", "unavailable"];


const model = {
  timestamp: null,      // Date of the status document
  skewMs: 0,            // server clock minus ours, from the Date header
  metrics: new Map(),   // metric name -> [[t, value], ...]
  lastRenderMs: 0,
  lastPollMs: 0,
  jobsEnded: 0,
  endedByType: new Map(),
};

// ---- status ----
async function fetchStatus() {
  const started = performance.now();
  let response;
  try {
    response = await fetch(STATUS_URL, { cache: "no-cache" });
  } catch (e) {
    showBanner("Cannot reach the scheduler's API.");
    setBadge("DOWN", "unreachable");
    return POLL_MS;
  }
  const date = Date.parse(response.headers.get("Date") || "");
  if (!isNaN(date)) model.skewMs = date - Date.now();
  let body;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    showBanner("Status unavailable: " + str(obj(body).detail || response.status));
    setBadge("DOWN", "no status");
    return POLL_MS;
  }
  showBanner(null);
  renderStatus(obj(body));
  model.lastPollMs = performance.now() - started;
  // A large cluster's document costs time to fetch and parse (about 1 s at 10,000 nodes): poll it
  // less often, spending at most a third of the time on it; events fill the gaps.
  return Math.max(POLL_MS, 3 * (performance.now() - started));
}

function renderStatus(status) {
  const t0 = performance.now();
  const ts = Date.parse(str(status.timestamp));
  model.timestamp = isNaN(ts) ? null : ts;
  const scheduler = obj(status.scheduler);
  setBadge(stateName(scheduler.state), str(obj(scheduler.state).title) || stateName(scheduler.state));
  $("scheduler-host").textContent = str(scheduler.hostname);
  $("framework-id").textContent = str(obj(scheduler.mesos).framework_id);
  $("offer-count").textContent = num(status.num_offers);
  renderWarnings(arr(scheduler.warnings));
  recordMetrics(obj(scheduler.metrics));
  renderResources(obj(status.resources));
  renderDependencies(obj(status.dependencies));
  renderSystem(status);
  loadNodes(arr(status.nodes));
  drawGrid();
  document.title = "scale-scheduler \u00b7 " + stateName(scheduler.state) + " \u00b7 " + nodeCount() + " nodes";
  model.lastRenderMs = performance.now() - t0;
  tickAge();
}

function setBadge(name, title) {
  const badge = $("scheduler-state");
  badge.className = "badge " + (/^[A-Z_]+$/.test(name) ? name : "");
  badge.textContent = title;
}

function showBanner(text) {
  const banner = $("banner");
  banner.hidden = !text;
  banner.textContent = text || "";
}

function tickAge() {
  if (model.timestamp === null) return;
  const age = Date.now() + model.skewMs - model.timestamp;
  $("status-age").textContent = fmtAge(age) + " old";
  $("status-age").classList.toggle("stale", age > STALE_MS);
}

function renderWarnings(warnings) {
  const list = $("scheduler-warnings");
  list.replaceChildren();
  if (!warnings.length) list.append(el("li", "none", "No scheduler warnings."));
  for (const w of warnings) {
    const item = el("li", "wrn", str(obj(w).title || obj(w).name || w));
    const description = str(obj(w).description);
    if (description) item.append(el("div", "dim", description));
    list.append(item);
  }
}

// ---- metrics sparklines ----
function recordMetrics(metrics) {
  const now = Date.now();
  for (const [name, value] of Object.entries(metrics)) {
    if (!model.metrics.has(name)) model.metrics.set(name, []);
    const series = model.metrics.get(name);
    series.push([now, num(value)]);
    while (series.length && series[0][0] < now - HISTORY_MS) series.shift();
  }
  renderMetrics();
}

function renderMetrics() {
  const box = $("metrics");
  for (const [name, series] of model.metrics) {
    let cell = box.querySelector('[data-metric="' + CSS.escape(name) + '"]');
    if (!cell) {
      cell = el("div", "metric");
      cell.dataset.metric = name;
      const label = el("div", "label");
      label.append(el("span", null, name.replace(/_per_sec$/, "").replace(/_/g, " ") + " /s"), el("b"));
      cell.append(label, el("canvas"));
      box.append(cell);
    }
    cell.querySelector("b").textContent = fmtRate(series.length ? series[series.length - 1][1] : 0);
    drawSparkline(cell.querySelector("canvas"), series);
  }
}

function drawSparkline(canvas, series) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 180, h = canvas.clientHeight || 30;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(h * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (series.length < 2) return;
  const now = Date.now();
  const max = Math.max(1, ...series.map((p) => p[1]));
  // The time axis grows with the history kept, from one minute up to ten.
  const span = Math.min(HISTORY_MS, Math.max(60000, now - series[0][0]));
  const x = (t) => w - ((now - t) / span) * w;
  const y = (v) => h - 2 - (v / max) * (h - 4);
  ctx.beginPath();
  ctx.moveTo(x(series[0][0]), h);
  for (const [t, v] of series) ctx.lineTo(x(t), y(v));
  ctx.lineTo(x(series[series.length - 1][0]), h);
  ctx.closePath();
  ctx.fillStyle = "rgba(75,143,226,0.25)";
  ctx.fill();
  ctx.beginPath();
  series.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
  ctx.strokeStyle = "#4b8fe2";
  ctx.lineWidth = 1.5;
  ctx.stroke();
}

// ---- resources ----
function renderResources(resources) {
  const box = $("resources");
  box.replaceChildren();
  const names = RESOURCES.filter((n) => n in resources).concat(Object.keys(resources).filter((n) => !RESOURCES.includes(n)));
  for (const name of names) {
    const r = obj(resources[name]);
    const total = num(r.total) || PARTS.reduce((s, p) => s + num(r[p]), 0);
    const row = el("div", "res");
    const bar = el("div", "bar");
    for (const part of PARTS) {
      const seg = el("span", part);
      seg.style.width = total > 0 ? (100 * num(r[part]) / total).toFixed(2) + "%" : "0";
      seg.title = part + ": " + fmtAmount(name, r[part]);
      bar.append(seg);
    }
    const nums = el("div", "nums", PARTS.map((p) => p + " " + fmtAmount(name, r[p])).join(" · ") + " · total " + fmtAmount(name, total));
    row.append(el("div", "name", name), bar, nums);
    box.append(row);
  }
  if (!names.length) box.append(el("div", "dim", "No resources reported."));
}

// ---- dependencies ----
function renderDependencies(dependencies) {
  const list = $("dependencies");
  list.replaceChildren();
  for (const [name, section] of Object.entries(dependencies)) list.append(dependencyItem(name, obj(section)));
  if (!list.children.length) list.append(el("li", "dim", "No dependencies reported."));
}

function dependencyItem(name, section) {
  const item = el("li");
  item.dataset.dependency = name;
  const errors = arr(section.errors), warnings = arr(section.warnings);
  const light = el("span", "light " + (section.OK === false || errors.length ? "bad" : warnings.length ? "warn" : section.OK ? "ok" : ""));
  const msg = el("div", "msg", str(obj(section.detail).msg || section.msg));
  for (const e of errors) msg.append(el("div", "err", conditionText(e)));
  for (const w of warnings) msg.append(el("div", "wrn", conditionText(w)));
  item.append(light, el("span", "dep", name), msg);
  return item;
}

// ---- system ----
function renderSystem(status) {
  const box = $("system");
  box.replaceChildren();
  const system = obj(status.system);
  const update = obj(system.database_update);
  box.append(el("div", null, "Database update: " + (update.is_completed ? "completed " + str(update.completed) : "not completed")));
  for (const s of arr(system.services)) {
    const o = obj(s);
    box.append(el("div", null, str(o.title || o.name) + ": " + num(o.actual_count) + " of " + num(o.desired_count) + " running"));
  }
  const vault = obj(status.vault);
  if (Object.keys(vault).length) box.append(el("div", null, "Vault: " + str(vault.status) + (vault.sealed ? " (sealed)" : "") + (vault.message ? " - " + str(vault.message) : "")));
  box.append(el("div", "dim", arr(status.job_types).length + " job types registered"));
}

// ---- queue ----
let queueServed = true;
async function fetchQueue() {
  if (!queueServed) return;
  let response;
  try { response = await fetch(QUEUE_URL, { cache: "no-cache" }); } catch (e) { return; }
  if (response.status === 404) { // an older scheduler: stop asking
    queueServed = false;
    $("queue-note").textContent = "This scheduler does not serve /v6/queue/status/.";
    return;
  }
  if (!response.ok) return;
  let body;
  try { body = obj(await response.json()); } catch (e) { return; }
  renderQueue(arr(body.results), num(body.count));
}

function renderQueue(results, count) {
  const body = $("queue").querySelector("tbody");
  body.replaceChildren();
  const now = Date.now() + model.skewMs;
  for (const r of results) {
    const o = obj(r), jt = obj(o.job_type);
    const row = el("tr");
    const name = el("td", null, str(jt.title || jt.name));
    if (jt.version) name.append(el("span", "dim", " " + str(jt.version)));
    const oldest = Date.parse(str(o.longest_queued));
    const reasons = el("td");
    for (const [reason, n] of Object.entries(obj(o.pending_reasons))) {
      reasons.append(el("span", "chip" + (/BLOCK/.test(reason) ? " block" : ""), reason + " " + num(n)));
    }
    row.append(name, el("td", null, num(o.count)), el("td", null, str(o.highest_priority)),
      el("td", null, isNaN(oldest) ? "" : fmtAge(now - oldest)), reasons);
    body.append(row);
  }
  $("queue-note").textContent = results.length ? (count > results.length ? count + " job types queued, first " + results.length + " shown" : "") : "Nothing queued.";
}

function renderJobsEnded() {
  const top = [...model.endedByType].sort((a, b) => b[1] - a[1]).slice(0, 4);
  $("jobs-ended").textContent = model.jobsEnded + " job executions ended since this page opened" +
    (top.length ? " (" + top.map(([name, n]) => name + " " + n).join(", ") + ")" : "");
}

// ---- events ----
function logEvent(text) {
  const list = $("event-log");
  const item = el("li");
  item.append(el("time", null, new Date().toLocaleTimeString()), document.createTextNode(text));
  list.prepend(item);
  while (list.children.length > 12) list.lastChild.remove();
}

function listen() {
  if (!window.EventSource) return;
  const source = new EventSource(EVENTS_URL);
  source.onopen = () => $("live").classList.add("on");
  source.onerror = () => $("live").classList.remove("on");
  const parse = (e) => { try { return obj(JSON.parse(e.data)); } catch (err) { return {}; } };
  source.addEventListener("nodes", (e) => {
    const data = parse(e);
    let changed = 0;
    for (const c of arr(data.changes)) {
      const o = obj(c);
      if (o.state === null || !setNodeState(str(o.hostname), str(o.state))) continue;
      changed++;
      logEvent("node " + str(o.hostname) + ": " + str(o.previous) + " \u2192 " + str(o.state));
    }
    if (changed) { renderLegend(); drawGrid(); }
    if (num(data.more) > 0 || arr(data.changes).length > changed) refreshSoon();
  });
  source.addEventListener("scheduler", (e) => {
    const data = parse(e);
    setBadge(str(data.state), str(data.state));
    for (const w of arr(data.added)) logEvent("scheduler warning: " + str(w));
    for (const w of arr(data.cleared)) logEvent("scheduler warning cleared: " + str(w));
    if (data.state !== data.previous) logEvent("scheduler: " + str(data.previous) + " \u2192 " + str(data.state));
    refreshSoon();
  });
  source.addEventListener("dependency", (e) => {
    const data = parse(e);
    const name = str(data.name);
    const old = $("dependencies").querySelector('[data-dependency="' + CSS.escape(name) + '"]');
    const item = dependencyItem(name, data);
    if (old) old.replaceWith(item); else $("dependencies").append(item);
    if (data.OK !== data.previous_OK) logEvent("dependency " + name + (data.OK ? " OK" : " not OK"));
  });
  source.addEventListener("jobs", (e) => {
    const data = parse(e);
    model.jobsEnded += num(data.finished);
    for (const j of arr(data.by_job_type)) {
      const name = str(obj(j).name || "job type " + str(obj(j).job_type_id));
      model.endedByType.set(name, (model.endedByType.get(name) || 0) + num(obj(j).count));
    }
    renderJobsEnded();
  });
}

// ---- loop ----
// One poll at a time: a refresh asked for while one is in flight runs right after it.
let timer = null, inFlight = false, again = false;
async function poll() {
  if (inFlight) { again = true; return; }
  inFlight = true;
  clearTimeout(timer);
  let wait = POLL_MS;
  try {
    wait = await fetchStatus();
    await fetchQueue();
  } finally {
    inFlight = false;
  }
  if (again) { again = false; wait = 0; }
  clearTimeout(timer);
  timer = setTimeout(poll, wait);
}
let soon = null;
function refreshSoon() {
  if (soon) return;
  soon = setTimeout(() => { soon = null; poll(); }, 300);
}

// Read-only hooks for tests and the curious: where a node's cell is, how long a render took.
window.scaleDashboard = Object.freeze({
  cellCenter,
  nodeState,
  lastRenderMs: () => model.lastRenderMs,
  lastPollMs: () => model.lastPollMs,
});

document.addEventListener("DOMContentLoaded", () => {
  attachGrid();
  let resize = null;
  window.addEventListener("resize", () => { clearTimeout(resize); resize = setTimeout(() => { drawGrid(); renderMetrics(); }, 150); });
  setInterval(tickAge, 1000);
  poll();
  listen();
});
