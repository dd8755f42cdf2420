// Grid dashboard: polls the API with the bearer token kept in sessionStorage. Everything that
// comes from a sandbox (commands, output, image names, labels) is attacker text: it is only
// ever set with textContent, never parsed as HTML. The page's Content-Security-Policy allows no
// inline script either.
"use strict";

(() => {
  const TOKEN_KEY = "grid-token";
  const POLL_MS = 1000;
  const MAX_ENTRIES_SHOWN = 200;   // the newest trajectory entries rendered
  const MAX_OUTPUT_CHARS = 65536;  // of one entry's output

  const $ = (id) => document.getElementById(id);
  let selectedId = null;
  let shownCount = -1;        // command_count of the trajectory on screen
  let polling = false;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (token()) headers["Authorization"] = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
    if (response.status === 401) {
      $("token-panel").hidden = false;
      throw new Error("the server wants a token (401)");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const message = data && data.error ? data.error : "HTTP " + response.status;
      const error = new Error(method + " " + path + ": " + message);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function age(iso) {
    const then = Date.parse(iso);
    if (Number.isNaN(then)) return "";
    const s = Math.max(0, Math.round((Date.now() - then) / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
    return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
  }

  function bytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < units.length - 1) { v /= 1024; ++i; }
    return (i === 0 ? v : v.toFixed(1)) + " " + units[i];
  }

  function limitsText(limits) {
    if (!limits) return "";
    const parts = [];
    if (limits.cpus) parts.push(limits.cpus + " cpu");
    if (limits.memory_mb) parts.push(limits.memory_mb + " MiB");
    if (limits.pids) parts.push(limits.pids + " pids");
    return parts.join(", ") || "none";
  }

  async function refreshHealth() {
    const status = $("health-status");
    try {
      const response = await fetch("/healthz", { cache: "no-store", credentials: "omit" });
      const h = await response.json();
      status.textContent = h.status === "ok" ? "healthy" : String(h.status);
      status.className = h.status === "ok" ? "ok" : "down";
      $("health-backend").textContent = h.backend;
      $("health-running").textContent = h.running;
      $("health-max-running").textContent = h.max_running;
      $("health-waiting").textContent = h.waiting;
      $("health-sandboxes").textContent = h.sandboxes === undefined ? "?" : h.sandboxes;
      $("health-max-sandboxes").textContent =
          h.max_sandboxes === undefined ? "?" : h.max_sandboxes;
    } catch (e) {
      status.textContent = "unreachable";
      status.className = "down";
    }
  }

  async function act(id, what) {
    try {
      // Stop keeps the record (status stopped); Delete forgets it.
      const path = "/sandboxes/" + encodeURIComponent(id);
      if (what === "stop") await api("POST", path + "/stop", { remove: false });
      if (what === "delete") {
        await api("DELETE", path);
        if (selectedId === id) select(null);
      }
      showError("");
    } catch (e) {
      showError(e.message);
    }
    poll();
  }

  function select(id) {
    selectedId = id;
    shownCount = -1;
    $("trajectory-id").textContent = id || "";
    $("trajectory-hint").hidden = !!id;
    $("trajectory-list").replaceChildren();
    for (const row of document.querySelectorAll("#sandboxes tbody tr")) {
      row.classList.toggle("selected", row.dataset.id === id);
    }
  }

  function sandboxRow(s, stats) {
    const row = el("tr");
    row.dataset.id = s.id;
    if (s.id === selectedId) row.classList.add("selected");
    const idCell = el("td", "id", s.id.slice(0, 8));  // the full id on hover
    idCell.title = s.id;
    row.append(idCell);
    const status = el("td", "status status-" + s.status, s.status);
    row.append(status);
    row.append(el("td", "image", s.image));
    row.append(el("td", "age", age(s.created_at)));
    row.append(el("td", "limits", limitsText(s.limits)));
    const st = stats[s.id];
    row.append(el("td", "cpu", st && st.cpu_seconds !== null && st.cpu_seconds !== undefined
        ? Number(st.cpu_seconds).toFixed(2) + " s" : "–"));
    let memory = st ? bytes(st.memory_bytes) : "–";
    if (st && st.memory_limit_bytes) memory += " / " + bytes(st.memory_limit_bytes);
    row.append(el("td", "memory", memory));
    row.append(el("td", "commands", s.command_count));
    const actions = el("td", "actions");
    const view = el("button", "view", "Trajectory");
    view.type = "button";
    view.addEventListener("click", () => { select(s.id); poll(); });
    actions.append(view);
    if (s.status !== "stopped") {
      const stop = el("button", "stop", "Stop");
      stop.type = "button";
      stop.addEventListener("click", () => act(s.id, "stop"));
      actions.append(stop);
    }
    const del = el("button", "delete", "Delete");
    del.type = "button";
    del.addEventListener("click", () => act(s.id, "delete"));
    actions.append(del);
    row.append(actions);
    return row;
  }

  async function statsOf(list) {
    const stats = {};
    await Promise.all(list.filter((s) => s.status === "running" || s.status === "exited")
      .map(async (s) => {
        try {
          stats[s.id] = await api("GET", "/sandboxes/" + encodeURIComponent(s.id) + "/stats");
        } catch (e) {
          // The backend may not tell (400 unsupported) or the sandbox just stopped: show "–".
        }
      }));
    return stats;
  }

  function trajectoryItem(entry) {
    const item = el("li");
    item.dataset.index = entry.index;
    const head = el("div");
    const prefix = entry.kind === "exec" ? (entry.standalone ? "$ [standalone] " : "$ ")
                                        : "# " + entry.kind + ": ";
    head.append(el("span", "command", prefix + entry.command));
    item.append(head);
    if (entry.kind === "exec") {
      let output = entry.output || "";
      if (output.length > MAX_OUTPUT_CHARS) {
        output = output.slice(0, MAX_OUTPUT_CHARS) + "\n[… cut in the dashboard]";
      }
      if (entry.output_dropped) output += "[output dropped: over the trajectory budget]";
      if (output) item.append(el("pre", "output", output));
      item.append(el("span", "exit" + (entry.exit_code ? " nonzero" : ""),
                     "exit " + entry.exit_code + (entry.at ? " · " + entry.at : "")));
    }
    return item;
  }

  async function refreshTrajectory(list) {
    if (!selectedId) return;
    const current = list.find((s) => s.id === selectedId);
    if (!current) { select(null); return; }
    if (current.command_count === shownCount) return;  // nothing new: no 64 MiB re-fetch
    const data = await api("GET", "/sandboxes/" + encodeURIComponent(selectedId) + "/trajectory");
    const entries = data.trajectory.slice(-MAX_ENTRIES_SHOWN);
    $("trajectory-list").replaceChildren(...entries.map(trajectoryItem));
    shownCount = data.command_count;
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      await refreshHealth();
      const list = await api("GET", "/sandboxes");
      const stats = await statsOf(list);
      $("sandboxes").tBodies[0].replaceChildren(...list.map((s) => sandboxRow(s, stats)));
      $("no-sandboxes").hidden = list.length > 0;
      await refreshTrajectory(list);
      $("token-panel").hidden = true;
      showError("");
    } catch (e) {
      showError(e.message);
    } finally {
      polling = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
      $("token-input").value = "";
      poll();
    });
    $("forget-token").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $("token-panel").hidden = false;
    });
    poll();
    setInterval(poll, POLL_MS);
  });
})();
