// rcodis fe: polls the dashboard through the fe's reverse proxy (?forward=<product>) and draws
// groups, slots, proxies and the migration progress. Plain DOM, no framework.
"use strict";

const COLORS = ["#ddd", "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
const color = (gid) => (gid === 0 ? COLORS[0] : COLORS[1 + ((gid - 1) % (COLORS.length - 1))]);
const $ = (id) => document.getElementById(id);

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

async function getJSON(path, product) {
  const r = await fetch(path + (product ? "?forward=" + encodeURIComponent(product) : ""));
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function loadProducts() {
  const names = await getJSON("/list");
  const sel = $("product");
  const cur = sel.value;
  sel.innerHTML = "";
  for (const n of names) {
    const o = document.createElement("option");
    o.value = o.textContent = n;
    sel.appendChild(o);
  }
  if (names.includes(cur)) sel.value = cur;
}

function drawSlots(slots) {
  const box = $("slots");
  if (box.children.length !== slots.length) {
    box.innerHTML = "";
    for (let i = 0; i < slots.length; i++) box.appendChild(document.createElement("div"));
  }
  const count = {};
  slots.forEach((m, i) => {
    const d = box.children[i];
    const moving = m.action && m.action.state;
    d.style.background = color(moving ? m.action.target_id : m.group_id);
    d.className = moving ? "moving" : "";
    d.title = "slot " + m.id + " group " + m.group_id + (moving ? " -> " + m.action.target_id + " (" + m.action.state + ")" : "");
    count[m.group_id] = (count[m.group_id] || 0) + 1;
  });
  $("legend").textContent = Object.entries(count).map(([g, n]) => (g === "0" ? "offline" : "group " + g) + ": " + n).join(", ");
  return count;
}

function drawGroups(group, count) {
  const body = $("groups").tBodies[0];
  body.innerHTML = "";
  for (const g of group.models) {
    g.servers.forEach((s, i) => {
      const st = (group.stats[s.server] || {}).stats || {};
      const tr = document.createElement("tr");
      tr.appendChild(cell(i === 0 ? String(g.id) : ""));
      tr.appendChild(cell(s.server));
      tr.appendChild(cell(i === 0 ? "master" : "replica"));
      const sync = (s.action && s.action.state) || (i === 0 ? "" : st.master_link_status || "?");
      tr.appendChild(cell(sync, sync === "synced_failed" || sync === "down" ? "bad" : ""));
      tr.appendChild(cell((st.db0 || "").split(",")[0].replace("keys=", "")));
      tr.appendChild(cell(st.used_memory_human || ""));
      tr.appendChild(cell(i === 0 ? String(count[g.id] || 0) : ""));
      body.appendChild(tr);
    });
  }
}

function drawProxies(proxy) {
  const body = $("proxies").tBodies[0];
  body.innerHTML = "";
  for (const p of proxy.models) {
    const st = proxy.stats[p.token] || {};
    const s = st.stats || {};
    const tr = document.createElement("tr");
    tr.appendChild(cell(String(p.id)));
    tr.appendChild(cell(p.proxy_addr));
    tr.appendChild(cell(p.admin_addr));
    const state = st.error ? "error" : st.timeout ? "timeout" : s.online ? "online" : "offline";
    tr.appendChild(cell(state, state === "online" ? "" : "bad"));
    tr.appendChild(cell(s.ops ? String(s.ops.total) : ""));
    tr.appendChild(cell(s.ops ? String(s.ops.qps) : ""));
    tr.appendChild(cell(s.sessions ? String(s.sessions.alive) : ""));
    body.appendChild(tr);
  }
}

async function refresh() {
  const product = $("product").value;
  if (!product) return;
  try {
    const o = await getJSON("/topom", product);
    const count = drawSlots(o.stats.slots);
    drawGroups(o.stats.group, count);
    drawProxies(o.stats.proxy);
    let p = null;
    try {
      p = await getJSON("/topom/progress", product);
    } catch (e) {
      p = null; // a Go dashboard has no progress route
    }
    if (p) {
      $("bar").style.width = p.percent + "%";
      $("progress-text").textContent =
        p.percent + "% (" + p.done + "/" + p.total + " slots; " + p.in_flight + " moving, " + p.pending + " pending)" +
        (p.disabled ? " — paused" : "") + (p.status ? " — " + p.status : "");
    } else {
      $("progress-text").textContent = o.stats.slot_action.progress.status;
    }
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").className = "";
  } catch (e) {
    $("status").textContent = String(e);
    $("status").className = "bad";
  }
}

loadProducts().then(refresh);
$("product").addEventListener("change", refresh);
setInterval(refresh, 2000);
setInterval(loadProducts, 10000);
