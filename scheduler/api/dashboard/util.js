// Helpers shared by the dashboard's modules: safe accessors for untrusted JSON, formatting, and
// element creation that only ever sets text.
export const RESOURCES = ["cpus", "mem", "gpus", "disk"];

export const $ = (id) => document.getElementById(id);
export const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
};
export const str = (v) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));
export const num = (v) => (typeof v === "number" && isFinite(v) ? v : 0);
export const arr = (v) => (Array.isArray(v) ? v : []);
export const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
export const stateName = (s) => str(obj(s).name || s) || "UNKNOWN";

export function fmtAmount(name, v) {
  if (name === "mem" || name === "disk") {
    const mb = num(v);
    if (mb >= 1048576) return (mb / 1048576).toFixed(1) + " TB";
    if (mb >= 1024) return (mb / 1024).toFixed(1) + " GB";
    return mb.toFixed(0) + " MB";
  }
  const n = num(v);
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}
export function fmtAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}
export function fmtRate(v) { return num(v) >= 100 ? num(v).toFixed(0) : num(v).toFixed(1); }

// Scale writes dependency conditions as {"NAME": "message"}; node conditions as {name, title, description}.
export function conditionText(c) {
  if (typeof c === "string") return c;
  const o = obj(c);
  if ("title" in o || "description" in o) return str(o.title || o.name) + (o.description ? ": " + str(o.description) : "");
  return Object.entries(o).map(([k, v]) => k + ": " + str(v)).join("; ");
}
