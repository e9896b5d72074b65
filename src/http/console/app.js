// fjord's web console: hash-routed views over the JSON API (/api/v1/, docs/observability.md).
// Plain DOM, no framework, no build step; every value shown goes through textContent.
"use strict";

const API = "/api/v1";
const view = document.getElementById("view");
let timer = null; // the current view's refresh, if it has one

// ---- helpers ---------------------------------------------------------------------------------

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  // From the origin: a page opened as http://user:password@host/ has a base URL that fetch()
  // refuses (the browser's login is sent anyway).
  const r = await fetch(location.origin + API + path, opts);
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    const e = new Error(data && data.message ? data.message : `HTTP ${r.status}`);
    e.kafka = data && data.error ? data.error : `HTTP_${r.status}`;
    throw e;
  }
  return data;
}

// h("tag.class", {attr: v, onclick: f}, child, ...): an element; strings become text nodes.
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function table(headers, rows, id) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, headers.map(x => h(x.startsWith("#") ? "th.num" : "th", {}, x.replace(/^#/, ""))))),
    h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td.muted", { colspan: headers.length }, "none"))]));
}

function td(v, num) { return h(num ? "td.num" : "td", {}, v === null || v === undefined ? "–" : v); }

function card(label, value, id) {
  return h("div.card", {}, h("div.label", {}, label), h("div.value", { id }, value));
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function duration(s) {
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || hh ? hh + "h " : "") + m + "m " + (s % 60) + "s";
}

function flash(msg, kind) {
  const f = document.getElementById("flash");
  f.hidden = !msg;
  f.className = kind || "error";
  f.textContent = msg || "";
}

function showError(e) { flash(`${e.kafka || "ERROR"}: ${e.message}`, "error"); }

// Run an action; show its error or its success message; then re-render the view (or go to
// `next`).
async function act(fn, done, next) {
  try {
    const out = await fn();
    const msg = done ? done(out) : "";
    dirty = false;
    if (next) { location.hash = next; await new Promise(r => setTimeout(r, 0)); }
    else await route(false);
    flash(msg, "info");
  } catch (e) { showError(e); }
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// ---- overview --------------------------------------------------------------------------------

let last = null; // previous totals, for throughput

async function overview() {
  const c = await api("GET", "/cluster");
  document.getElementById("whoami").textContent = c.authenticated_as;
  const now = Date.now();
  let rate = { in: null, out: null, msgs: null };
  if (last) {
    const dt = (now - last.at) / 1000;
    rate = {
      in: (c.bytes_in_total - last.c.bytes_in_total) / dt,
      out: (c.bytes_out_total - last.c.bytes_out_total) / dt,
      msgs: (c.messages_in_total - last.c.messages_in_total) / dt,
    };
  }
  last = { at: now, c };
  const perSec = v => v === null ? "measuring…" : bytes(Math.max(0, v)) + "/s";
  return [
    h("h1", {}, "Overview"),
    h("div.cards", {},
      card("Cluster id", c.cluster_id, "cluster-id"),
      card("This node", c.node_id),
      card("Controller", c.controller_id, "controller"),
      card("Version", c.version, "version"),
      card("Uptime", duration(c.uptime_seconds), "uptime"),
      card("Bytes in", perSec(rate.in), "rate-in"),
      card("Bytes out", perSec(rate.out), "rate-out"),
      card("Messages in", rate.msgs === null ? "measuring…" : Math.max(0, rate.msgs).toFixed(1) + "/s", "rate-msgs"),
      card("Total in", bytes(c.bytes_in_total)),
      card("Total out", bytes(c.bytes_out_total))),
    h("h2", {}, "Brokers"),
    table(["Node", "Host", "#Port", "Rack", "Role"], c.brokers.map(b => h("tr", {},
      td(b.node_id), td(b.host), td(b.port, true), td(b.rack),
      td((b.node_id === c.controller_id ? "controller" : "") + (b.fenced ? " fenced" : "")))), "brokers"),
  ];
}

// ---- topics ----------------------------------------------------------------------------------

const enc = encodeURIComponent;

async function topics() {
  const { topics } = await api("GET", "/topics");
  const create = h("form.inline", { id: "create-topic", onsubmit: e => {
    e.preventDefault();
    const v = formValues(e.target);
    const body = { name: v.name };
    if (v.partitions) body.partitions = Number(v.partitions);
    if (v.replication_factor) body.replication_factor = Number(v.replication_factor);
    act(() => api("POST", "/topics", body), () => `Created topic ${v.name}`);
  } },
    h("label", {}, "Name", h("input", { name: "name", required: true, placeholder: "orders" })),
    h("label", {}, "Partitions", h("input", { name: "partitions", type: "number", min: 1, placeholder: "default" })),
    h("label", {}, "Replication factor", h("input", { name: "replication_factor", type: "number", min: 1, placeholder: "default" })),
    h("button", { type: "submit" }, "Create topic"));
  return [
    h("h1", {}, "Topics"),
    create,
    table(["Name", "#Partitions", "#Replicas", "#Records", "#Size", ""], topics.map(t => h("tr", { "data-topic": t.name },
      h("td", {}, h("a", { href: `#/topics/${enc(t.name)}` }, t.name)),
      td(t.partitions, true), td(t.replication_factor, true), td(t.records, true), td(bytes(t.size_bytes), true),
      h("td", {}, t.internal ? h("span.pill", {}, "internal") : "",
        " ", h("a", { href: `#/topics/${enc(t.name)}/messages` }, "messages")))), "topics"),
  ];
}

async function topic(name) {
  const t = await api("GET", `/topics/${enc(name)}`);
  const changed = {};
  const configs = table(["Config", "Value", "Source"], t.configs.map(c => h("tr", { "data-config": c.name },
    td(c.name),
    h("td", {}, c.read_only || c.sensitive ? (c.sensitive ? "(sensitive)" : c.value)
      : h("input", { value: c.value ?? "", size: 28, oninput: e => { changed[c.name] = e.target.value; } })),
    h("td.muted", {}, c.source)),
  ), "configs");
  let confirmDelete = false;
  return [
    h("h1", {}, "Topic ", h("span", { id: "topic-name" }, t.name), t.internal ? h("span.pill", {}, " internal") : ""),
    h("div.toolbar", {},
      h("a", { href: `#/topics/${enc(name)}/messages` }, h("button.secondary", { type: "button" }, "Browse messages")),
      h("a", { href: `#/acls?resource_type=TOPIC&resource_name=${enc(name)}&pattern_type=MATCH` },
        h("button.secondary", { type: "button" }, "ACLs")),
      h("form.inline", { id: "add-partitions", onsubmit: e => {
        e.preventDefault();
        const count = Number(formValues(e.target).count);
        act(() => api("POST", `/topics/${enc(name)}/partitions`, { count }), () => `${name} now has ${count} partitions`);
      } },
        h("label", {}, "Partitions in total", h("input", { name: "count", type: "number", min: t.partitions.length + 1, value: t.partitions.length + 1 })),
        h("button", { type: "submit" }, "Add partitions")),
      h("button.danger", { id: "delete-topic", type: "button", onclick: e => {
        if (!confirmDelete) { confirmDelete = true; e.target.textContent = `Really delete ${name}?`; return; }
        act(() => api("DELETE", `/topics/${enc(name)}`), () => `Deleted topic ${name}`, "#/topics");
      } }, "Delete topic")),
    h("h2", {}, "Partitions"),
    table(["#Partition", "#Leader", "Replicas", "ISR", "#Start offset", "#End offset", "#Size"], t.partitions.map(p => h("tr", {},
      td(p.partition, true), td(p.leader, true), td(p.replicas.join(", ")), td(p.isr.join(", ")),
      td(p.start_offset, true), td(p.end_offset, true), td(bytes(p.size_bytes), true))), "partitions"),
    h("div.grid2", {},
      h("div", {}, h("h2", {}, "Produce a message"), produceForm(name, t.partitions.length)),
      h("div", {}, h("h2", {}, "Configs"),
        h("div.toolbar", {}, h("button", { id: "save-configs", type: "button", onclick: () => {
          const configs = Object.fromEntries(Object.entries(changed).map(([k, v]) => [k, v === "" ? null : v]));
          if (!Object.keys(configs).length) { flash("Nothing changed", "info"); return; }
          act(() => api("PATCH", `/topics/${enc(name)}/configs`, { configs }), () => `Saved ${Object.keys(configs).join(", ")}`);
        } }, "Save changed configs"), h("span.muted", {}, "an empty value goes back to the default")),
        configs)),
  ];
}

function produceForm(topicName, partitions) {
  return h("form", { id: "produce", onsubmit: e => {
    e.preventDefault();
    const v = formValues(e.target);
    const body = { value: v.value };
    if (v.key) body.key = v.key;
    if (v.partition !== "") body.partition = Number(v.partition);
    body.headers = v.headers.split("\n").filter(l => l.trim()).map(l => {
      const i = l.indexOf("=");
      return i < 0 ? { key: l.trim(), value: null } : { key: l.slice(0, i).trim(), value: l.slice(i + 1) };
    });
    act(() => api("POST", `/topics/${enc(topicName)}/messages`, body),
      r => `Produced to ${r.topic}-${r.partition} at offset ${r.offset}`);
  } },
    h("div.toolbar", {},
      h("label", {}, "Partition", h("select", { name: "partition" },
        h("option", { value: "" }, "by key (or round robin)"),
        Array.from({ length: partitions }, (_, i) => h("option", { value: i }, String(i))))),
      h("label", {}, "Key", h("input", { name: "key", placeholder: "optional" }))),
    h("label", {}, "Value", h("textarea", { name: "value", rows: 4, placeholder: '{"hello": "world"}' })),
    h("label", {}, "Headers (one key=value a line)", h("textarea", { name: "headers", rows: 2 })),
    h("div.toolbar", {}, h("button", { type: "submit" }, "Produce")));
}

// ---- messages --------------------------------------------------------------------------------

function pretty(v, encoding) {
  if (v === null) return h("span.muted", {}, "null");
  if (encoding === "base64") return h("span", {}, h("span.pill", {}, "base64"), " ", v);
  const s = v.trim();
  if (s.startsWith("{") || s.startsWith("[")) {
    try { return h("pre.json", {}, JSON.stringify(JSON.parse(s), null, 2)); } catch (_) { /* not JSON */ }
  }
  return h("pre", {}, v);
}

async function messages(name, params) {
  const t = await api("GET", `/topics/${enc(name)}`);
  const p = params.get("p") || "0";
  const from = params.get("from") || "beginning";
  const at = params.get("at") || "";
  const limit = params.get("limit") || "50";
  const filter = params.get("q") || "";
  let q = `limit=${enc(limit)}`;
  if (from === "offset") q += `&offset=${enc(at)}`;
  else if (from === "timestamp") q += `&timestamp=${enc(Date.parse(at) || at)}`;
  else q += `&from=${from}`;
  let data = null, err = null;
  try { data = await api("GET", `/topics/${enc(name)}/partitions/${enc(p)}/messages?${q}`); } catch (e) { err = e; }
  const go = changes => {
    const next = new URLSearchParams({ p, from, at, limit, q: filter, ...changes });
    location.hash = `#/topics/${enc(name)}/messages?${next}`;
  };
  const form = h("form.inline", { id: "browse", onsubmit: e => {
    e.preventDefault();
    const v = formValues(e.target);
    go({ p: v.p, from: v.from, at: v.at, limit: v.limit, q: v.q });
  } },
    h("label", {}, "Partition", h("select", { name: "p" }, t.partitions.map(x =>
      h("option", { value: x.partition, selected: String(x.partition) === p }, `${x.partition} (${x.start_offset ?? "?"}–${x.end_offset ?? "?"})`)))),
    h("label", {}, "From", h("select", { name: "from" }, ["beginning", "end", "offset", "timestamp"].map(f =>
      h("option", { value: f, selected: f === from }, f)))),
    h("label", {}, "Offset or time", h("input", { name: "at", value: at, placeholder: "42 or 2026-01-31T12:00:00Z" })),
    h("label", {}, "Limit (max 500)", h("input", { name: "limit", type: "number", min: 1, max: 500, value: limit })),
    h("label", {}, "Filter", h("input", { name: "q", value: filter, placeholder: "text in key, value or headers" })),
    h("button", { type: "submit" }, "Read"));
  const out = [h("h1", {}, "Messages of ", h("a", { href: `#/topics/${enc(name)}` }, name)), form];
  if (err) { out.push(h("p", { id: "read-error", class: "error" }, `${err.kafka}: ${err.message}`)); return out; }
  const needle = filter.toLowerCase();
  const shown = data.messages.filter(m => !needle || [m.key, m.value, ...m.headers.flatMap(x => [x.key, x.value])]
    .some(s => s !== null && s.toLowerCase().includes(needle)));
  out.push(
    h("p.muted", { id: "read-summary" },
      `Partition ${data.partition}: offsets ${data.start_offset}–${data.end_offset}; read ${data.messages.length}`,
      needle ? `, ${shown.length} match "${filter}"` : "", "."),
    table(["#Offset", "Timestamp", "Key", "Value", "Headers"], shown.map(m => h("tr", { "data-offset": m.offset },
      td(m.offset, true),
      h("td", { title: m.timestamp_type }, new Date(m.timestamp).toISOString()),
      h("td.key", {}, pretty(m.key, m.key_encoding)),
      h("td.value", {}, pretty(m.value, m.value_encoding)),
      h("td", {}, m.headers.map(x => h("div", {}, h("b", {}, x.key), "=", x.value === null ? "null" : x.value))))), "messages"),
    h("div.toolbar", {},
      h("button.secondary", { id: "next-page", type: "button", disabled: data.next_offset >= data.end_offset,
        onclick: () => go({ from: "offset", at: String(data.next_offset) }) }, `Next page (from ${data.next_offset})`)),
    h("h2", {}, "Produce a message"), produceForm(name, t.partitions.length));
  return out;
}

// ---- groups ----------------------------------------------------------------------------------

async function groups() {
  const { groups } = await api("GET", "/groups");
  return [
    h("h1", {}, "Consumer groups"),
    table(["Group", "State", "Type", "Protocol type"], groups.map(g => h("tr", { "data-group": g.group_id },
      h("td", {}, h("a", { href: `#/groups/${enc(g.group_id)}` }, g.group_id)),
      h("td", {}, h(`span.state.${g.state}`, {}, g.state)), td(g.type), td(g.protocol_type))), "groups"),
  ];
}

async function group(id) {
  const g = await api("GET", `/groups/${enc(id)}`);
  const inactive = g.state === "Empty" || g.state === "Dead";
  let confirmDelete = false;
  const reset = h("form.inline", { id: "reset-offsets", onsubmit: e => {
    e.preventDefault();
    const v = formValues(e.target);
    const body = { to: v.to };
    if (v.to === "offset") body.offset = Number(v.at);
    if (v.to === "timestamp") body.timestamp = Number.isNaN(Number(v.at)) ? Date.parse(v.at) : Number(v.at);
    if (v.topic) body.topic = v.topic;
    act(() => api("POST", `/groups/${enc(id)}/offsets/reset`, body),
      r => "Reset " + r.offsets.map(o => `${o.topic}-${o.partition} to ${o.offset}`).join(", "));
  } },
    h("label", {}, "Reset to", h("select", { name: "to" }, ["earliest", "latest", "timestamp", "offset"].map(x => h("option", { value: x }, x)))),
    h("label", {}, "Offset or time", h("input", { name: "at", placeholder: "for offset / timestamp" })),
    h("label", {}, "Topic", h("input", { name: "topic", placeholder: "all committed" })),
    h("button", { type: "submit", disabled: !inactive, title: inactive ? "" : "only an inactive (Empty) group's offsets can be reset" }, "Reset offsets"));
  return [
    h("h1", {}, "Group ", h("span", { id: "group-id" }, g.group_id), " ", h(`span.state.${g.state}`, { id: "group-state" }, g.state)),
    h("div.cards", {},
      card("Members", g.members.length),
      card("Total lag", g.total_lag ?? "–", "total-lag"),
      card("Assignor", g.protocol || "–")),
    h("h2", {}, "Members"),
    table(["Member", "Client id", "Host", "Assignment"], g.members.map(m => h("tr", {},
      td(m.member_id), td(m.client_id), td(m.client_host),
      td(m.assignment.map(a => `${a.topic}: ${a.partitions.join(", ")}`).join("; ")))), "members"),
    h("h2", {}, "Offsets and lag"),
    table(["Topic", "#Partition", "#Committed", "#End", "#Lag"], g.offsets.map(o => h("tr", { "data-tp": `${o.topic}-${o.partition}` },
      td(o.topic), td(o.partition, true), td(o.committed_offset, true), td(o.end_offset, true),
      h(o.lag > 0 ? "td.num.lag-positive" : "td.num", { "data-col": "lag" }, o.lag ?? "–"))), "offsets"),
    h("h2", {}, "Reset offsets"),
    inactive ? null : h("p.muted", {}, `The group is ${g.state}: stop its consumers to reset its offsets.`),
    reset,
    h("div.toolbar", {}, h("button.danger", { id: "delete-group", type: "button", disabled: !inactive, onclick: e => {
      if (!confirmDelete) { confirmDelete = true; e.target.textContent = `Really delete ${id}?`; return; }
      act(() => api("DELETE", `/groups/${enc(id)}`), () => `Deleted group ${id}`, "#/groups");
    } }, "Delete group")),
  ];
}

// ---- transactions ----------------------------------------------------------------------------

const TXN_STATES = ["Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort",
  "PrepareEpochFence", "Dead"];

// A span of milliseconds in words ("850 ms", "2 s", "4.2 s", "1h 3m 0s").
function age(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
  return duration(Math.floor(ms / 1000));
}

// "2026-01-31 12:00:00 UTC"
function utc(ms) { return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"); }

function txnPartitions(t) {
  return t.topics.map(x => `${x.topic}: ${x.partitions.join(", ")}`).join("; ");
}

function hangingPill(t) {
  return t.hanging ? h("span.pill.hanging", { title: `open ${age(t.age_ms)}, longer than its ${age(t.timeout_ms)} timeout` }, "hanging") : null;
}

async function transactions(params) {
  const state = params.get("state") || "";
  const r = await api("GET", "/transactions" + (state ? `?state=${enc(state)}` : ""));
  const open = r.transactions.filter(t => t.open).length;
  const hanging = r.transactions.filter(t => t.hanging).length;
  const filter = h("form.inline", { id: "txn-filter", onsubmit: e => {
    e.preventDefault();
    const v = formValues(e.target).state;
    location.hash = v ? `#/transactions?state=${enc(v)}` : "#/transactions";
  } },
    h("label", {}, "State", h("select", { name: "state" },
      h("option", { value: "" }, "any"),
      TXN_STATES.map(s => h("option", { value: s, selected: s === state }, s)))),
    h("button", { type: "submit" }, "Show"));
  return [
    h("h1", {}, "Transactions"),
    h("div.cards", {},
      card("Listed", r.total, "txn-total"),
      card("Open", open, "txn-open"),
      card("Hanging", hanging, "txn-hanging")),
    filter,
    r.total > r.transactions.length ? h("p.muted", {}, `Showing the first ${r.transactions.length} of ${r.total}.`) : null,
    table(["Transactional id", "State", "#Producer id", "#Epoch", "Partitions", "#Timeout", "#Age", ""],
      r.transactions.map(t => h("tr", { "data-txn": t.transactional_id, class: [t.open ? "open" : "", t.hanging ? "hanging" : ""].join(" ").trim() || null },
        h("td", {}, h("a", { href: `#/transactions/${enc(t.transactional_id)}` }, t.transactional_id)),
        h("td", { "data-col": "state" }, h(`span.state.${t.state}`, {}, t.state)),
        td(t.producer_id, true), td(t.producer_epoch, true),
        h("td", { "data-col": "partitions" }, txnPartitions(t) || "–"),
        td(age(t.timeout_ms), true),
        h("td.num", { title: t.start_time_ms === null ? "" : `began ${new Date(t.start_time_ms).toISOString()}` }, age(t.age_ms)),
        h("td", {}, hangingPill(t))))
      , "transactions"),
    h("p.muted", {}, "Open (Ongoing or Prepare…) transactions are highlighted; one open longer than its timeout is hanging: ",
      "the coordinator could not finish it (a partition without a leader, a failed write)."),
  ];
}

async function transaction(id) {
  const t = await api("GET", `/transactions/${enc(id)}`);
  const rows = t.topics.flatMap(x => x.partitions.map(p => h("tr", { "data-tp": `${x.topic}-${p}` },
    h("td", {}, h("a", { href: `#/topics/${enc(x.topic)}` }, x.topic)), td(p, true))));
  return [
    h("h1", {}, "Transaction ", h("span", { id: "txn-id" }, t.transactional_id), " ",
      h(`span.state.${t.state}`, { id: "txn-state" }, t.state), " ", hangingPill(t)),
    t.hanging ? h("div.notice.bad", { id: "hanging-warning" },
      `Open for ${age(t.age_ms)}, longer than its timeout of ${age(t.timeout_ms)}: the coordinator has not been able to finish it `,
      `(${t.state === "Ongoing" ? "its abort failed" : "a partition's marker cannot be written"}); see the broker's log.`) : null,
    h("div.cards", {},
      card("Producer id", t.producer_id, "txn-producer-id"),
      card("Producer epoch", t.producer_epoch, "txn-producer-epoch"),
      card("Timeout", age(t.timeout_ms), "txn-timeout"),
      card("Began", t.start_time_ms === null ? "–" : utc(t.start_time_ms), "txn-start"),
      card(t.open ? "Open for" : "Since it began", age(t.age_ms), "txn-age")),
    h("h2", {}, t.open ? "Partitions in the transaction" : "Partitions in the transaction (none once it is complete)"),
    table(["Topic", "#Partition"], rows, "txn-partitions"),
    h("p", {}, h("a", { href: "#/transactions" }, "All transactions")),
  ];
}

// ---- ACLs ------------------------------------------------------------------------------------

const ACL_FIELDS = ["resource_type", "resource_name", "pattern_type", "principal", "host", "operation", "permission"];
const RESOURCE_TYPES = ["TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"];
const OPERATIONS = ["ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
  "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"];

function aclKey(a) { return ACL_FIELDS.map(f => a[f]).join("|"); }

function aclWords(a) {
  return `${a.permission} ${a.principal} ${a.operation} on ${a.resource_type} ${a.resource_name} (${a.pattern_type}) from ${a.host}`;
}

function options(values, selected, any) {
  return [any ? h("option", { value: "" }, any) : null,
    ...values.map(v => h("option", { value: v, selected: v === selected }, v))];
}

async function acls(params) {
  const q = new URLSearchParams();
  for (const f of ACL_FIELDS) if (params.get(f)) q.set(f, params.get(f));
  const title = h("h1", {}, "ACLs");
  let list;
  try {
    list = await api("GET", "/acls" + (q.toString() ? `?${q}` : ""));
  } catch (e) {
    if (e.kafka !== "SECURITY_DISABLED") throw e;
    return [title, h("div.notice", { id: "no-authorizer" }, e.message, "."),
      h("p.muted", {}, "Set authorizer.class.name (and super.users) in the broker's configuration to enforce ACLs; see docs/security.md.")];
  }
  const v = f => params.get(f) || "";
  const filter = h("form.inline", { id: "acl-filter", onsubmit: e => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, val] of Object.entries(formValues(e.target))) if (val) next.set(k, val);
    location.hash = next.toString() ? `#/acls?${next}` : "#/acls";
  } },
    h("label", {}, "Resource type", h("select", { name: "resource_type" }, options(RESOURCE_TYPES, v("resource_type"), "any"))),
    h("label", {}, "Resource name", h("input", { name: "resource_name", value: v("resource_name"), placeholder: "any" })),
    h("label", {}, "Pattern", h("select", { name: "pattern_type" },
      options(["MATCH", "LITERAL", "PREFIXED"], v("pattern_type"), "any"))),
    h("label", {}, "Principal", h("input", { name: "principal", value: v("principal"), placeholder: "any" })),
    h("label", {}, "Host", h("input", { name: "host", value: v("host"), placeholder: "any", size: 10 })),
    h("label", {}, "Operation", h("select", { name: "operation" }, options(OPERATIONS, v("operation"), "any"))),
    h("label", {}, "Permission", h("select", { name: "permission" }, options(["ALLOW", "DENY"], v("permission"), "any"))),
    h("button", { type: "submit" }, "Filter"));
  const create = h("form.inline", { id: "create-acl", onsubmit: e => {
    e.preventDefault();
    const body = formValues(e.target);
    act(() => api("POST", "/acls", body), r => `Added ${aclWords(r.created)}`);
  } },
    h("label", {}, "Permission", h("select", { name: "permission" }, options(["ALLOW", "DENY"], "ALLOW"))),
    h("label", {}, "Principal", h("input", { name: "principal", required: true, placeholder: "User:alice" })),
    h("label", {}, "Operation", h("select", { name: "operation" }, options(OPERATIONS, "READ"))),
    h("label", {}, "Resource type", h("select", { name: "resource_type" }, options(RESOURCE_TYPES, "TOPIC"))),
    h("label", {}, "Pattern", h("select", { name: "pattern_type" }, options(["LITERAL", "PREFIXED"], "LITERAL"))),
    h("label", {}, "Resource name", h("input", { name: "resource_name", required: true, placeholder: "orders, or * for all" })),
    h("label", {}, "Host", h("input", { name: "host", value: "*", size: 10 })),
    h("button", { type: "submit" }, "Add ACL"));
  const rows = list.acls.map(a => {
    let confirm = false;
    return h("tr", { "data-acl": aclKey(a) },
      td(a.resource_type), td(a.pattern_type), td(a.resource_name), td(a.principal), td(a.host), td(a.operation),
      h("td", {}, h(`span.perm.${a.permission}`, {}, a.permission)),
      h("td", {}, h("button.danger.small.delete-acl", { type: "button", onclick: e => {
        if (!confirm) { confirm = true; e.target.textContent = "Really delete?"; return; }
        const exact = new URLSearchParams(ACL_FIELDS.map(f => [f, a[f]]));
        act(() => api("DELETE", `/acls?${exact}`), r => `Deleted ${r.deleted.map(aclWords).join("; ")}`);
      } }, "Delete")));
  });
  return [
    title,
    h("h2", {}, "Add an ACL"),
    create,
    h("h2", {}, "ACLs"),
    filter,
    h("p.muted", { id: "acl-summary" }, q.toString() ? `${list.acls.length} match the filter.` : `${list.acls.length} in all.`),
    table(["Resource type", "Pattern", "Resource", "Principal", "Host", "Operation", "Permission", ""], rows, "acls"),
  ];
}

// ---- routing ---------------------------------------------------------------------------------

const routes = [
  [/^#?\/?$/, () => overview(), "overview", 2000],
  [/^#\/topics$/, () => topics(), "topics", 0],
  [/^#\/topics\/([^/?]+)$/, m => topic(decodeURIComponent(m[1])), "topics", 0],
  [/^#\/topics\/([^/?]+)\/messages(?:\?(.*))?$/, m => messages(decodeURIComponent(m[1]), new URLSearchParams(m[2] || "")), "topics", 0],
  [/^#\/groups$/, () => groups(), "groups", 3000],
  [/^#\/groups\/([^/?]+)$/, m => group(decodeURIComponent(m[1])), "groups", 2000],
  [/^#\/transactions(?:\?(.*))?$/, m => transactions(new URLSearchParams(m[1] || "")), "transactions", 2000],
  [/^#\/transactions\/([^/?]+)$/, m => transaction(decodeURIComponent(m[1])), "transactions", 2000],
  [/^#\/acls(?:\?(.*))?$/, m => acls(new URLSearchParams(m[1] || "")), "acls", 0],
];

let rendering = 0;
// Something typed or chosen in the view's forms: a timed refresh leaves the view alone until an
// action or a navigation.
let dirty = false;
view.addEventListener("input", () => { dirty = true; });

async function route(clearFlash) {
  clearTimeout(timer);
  if (clearFlash) { flash(""); dirty = false; }
  const hash = location.hash || "#/";
  const found = routes.find(([re]) => re.test(hash));
  if (!found) { view.replaceChildren(h("p", {}, "Nothing here. ", h("a", { href: "#/" }, "Overview"))); return; }
  const [re, render, nav, every] = found;
  document.querySelectorAll("[data-nav]").forEach(a => a.classList.toggle("active", a.dataset.nav === nav));
  const mine = ++rendering;
  try {
    const nodes = await render(hash.match(re));
    // A timed refresh must not wipe what the user is typing into a form.
    const refresh = clearFlash === false && every;
    // A view leaves out what does not apply as null.
    if (mine === rendering && !(refresh && dirty)) view.replaceChildren(...nodes.filter(n => n !== null && n !== undefined));
    view.dataset.loaded = hash;
  } catch (e) {
    if (mine === rendering) {
      view.replaceChildren(h("p.muted", {}, "Could not load this page."));
      showError(e);
      view.dataset.loaded = hash;
    }
  }
  if (every && mine === rendering) timer = setTimeout(() => route(false), every);
}

window.addEventListener("hashchange", () => route(true));
route(true);
// Who the console acts as (User:ANONYMOUS without an authorizer).
api("GET", "/cluster").then(c => { document.getElementById("whoami").textContent = c.authenticated_as; }, () => {});
