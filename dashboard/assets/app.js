// rcodis fe: polls the dashboard through the fe's reverse proxy (?forward=<product>) and draws
// groups, slots, proxies and the migration progress; the forms send the dashboard's mutating
// calls (PUT /api/topom/...). Plain DOM, no framework.
"use strict";

// SHA-256 (FIPS 180-4) of a UTF-8 string, as hex. The dashboard's xauth needs it, and
// crypto.subtle exists only on secure pages (not on plain http from a remote host).
const SHA_K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

function sha256hex(text) {
  const msg = new TextEncoder().encode(text);
  const buf = new Uint8Array(((msg.length + 9 + 63) >> 6) << 6);
  buf.set(msg);
  buf[msg.length] = 0x80;
  const dv = new DataView(buf.buffer);
  const bits = msg.length * 8;
  dv.setUint32(buf.length - 8, Math.floor(bits / 0x100000000));
  dv.setUint32(buf.length - 4, bits >>> 0);
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < buf.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA_K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    [a, b, c, d, e, f, g, k].forEach((v, i) => (h[i] = (h[i] + v) >>> 0));
  }
  return h.map((v) => v.toString(16).padStart(8, "0")).join("");
}

// The dashboard's xauth: rpc.NewXAuth(product_name) (product_auth is not part of it).
const xauth = (product) => sha256hex("Codis-XAuth-[" + product + "]").slice(0, 32);

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
    if (g.servers.length === 0) {
      // A new group: shown (and its slot count) before it gets a server.
      const tr = document.createElement("tr");
      [String(g.id), "(no server)", "", "", "", "", String(count[g.id] || 0)].forEach((t) => tr.appendChild(cell(t)));
      body.appendChild(tr);
    }
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

let actionsDisabled = false;

async function refresh() {
  const product = $("product").value;
  if (!product) return;
  try {
    const o = await getJSON("/topom", product);
    const count = drawSlots(o.stats.slots);
    drawGroups(o.stats.group, count);
    drawProxies(o.stats.proxy);
    actionsDisabled = !!o.stats.slot_action.disabled;
    $("toggle-actions").textContent = actionsDisabled ? "resume" : "pause";
    $("toggle-actions").title = actionsDisabled ? "slot actions are paused" : "slot actions run";
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

function say(text, ok) {
  $("message").textContent = text;
  $("message").className = ok ? "ok" : "bad";
}

// One mutating call: PUT /api/topom/<verb>/<xauth>/<args...> through the fe, with the admin
// auth header when one is entered. The dashboard's errors come back as HTTP 800 {"Cause": ...}.
async function act(what, verb, ...args) {
  const product = $("product").value;
  if (!product) return say("no product selected", false);
  const path = ["/api/topom", verb, xauth(product), ...args.map((a) => encodeURIComponent(String(a)))].join("/");
  const headers = {};
  const auth = $("admin-auth").value;
  if (auth) headers["X-Codis-Admin-Auth"] = auth;
  try {
    const r = await fetch(path + "?forward=" + encodeURIComponent(product), { method: "PUT", headers });
    if (r.ok) {
      say(what + ": done", true);
    } else {
      let cause = "HTTP " + r.status;
      try {
        cause = (await r.json()).Cause || cause;
      } catch (e) {
        // not a dashboard error body
      }
      if (cause === "admin auth required" || cause === "invalid admin auth") {
        cause += ": this dashboard has admin_auth set in dashboard.toml; enter it in the 'admin auth' field above";
      }
      say(what + " failed: " + cause, false);
    }
  } catch (e) {
    say(what + " failed: " + e, false);
  }
  await refresh();
}

function onSubmit(form, run) {
  $(form).addEventListener("submit", (ev) => {
    ev.preventDefault();
    run();
  });
}

onSubmit("form-group", () => act("create group " + $("group-id").value, "group/create", $("group-id").value));
onSubmit("form-server", () =>
  act("add server " + $("server-addr").value, "group/add", $("server-gid").value, $("server-addr").value),
);
onSubmit("form-proxy", () => act("add proxy " + $("proxy-addr").value, "proxy/create", $("proxy-addr").value));
onSubmit("form-migrate", () => {
  const [b, e, g] = ["migrate-beg", "migrate-end", "migrate-gid"].map((id) => $(id).value);
  return act("migrate slots " + b + "-" + e + " to group " + g, "slots/action/create-range", b, e, g);
});
$("toggle-actions").addEventListener("click", () =>
  act(actionsDisabled ? "resume slot actions" : "pause slot actions", "slots/action/disabled", actionsDisabled ? 0 : 1),
);
$("form-auth").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("codis-admin-auth", $("admin-auth").value);
});
$("admin-auth").value = sessionStorage.getItem("codis-admin-auth") || "";
$("admin-auth").addEventListener("change", () => sessionStorage.setItem("codis-admin-auth", $("admin-auth").value));

loadProducts().then(refresh);
$("product").addEventListener("change", refresh);
setInterval(refresh, 2000);
setInterval(loadProducts, 10000);
