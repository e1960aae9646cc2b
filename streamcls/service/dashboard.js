// The dashboard: polls the API (sources every second, events and label runs every two),
// shows each camera's MJPEG view. Every text goes in through textContent: ids and labels
// are data, never markup. The token (when the service needs one) stays in this tab's
// sessionStorage, is sent as a bearer header, and as a SameSite=Strict cookie for <img>.
"use strict";

const tiles = new Map();  // source id -> its tile's elements
let token = sessionStorage.getItem("streamcls_token") || "";

function setToken(value) {
  token = value;
  sessionStorage.setItem("streamcls_token", value);
  document.cookie = "streamcls_token=" + encodeURIComponent(value) + "; path=/; SameSite=Strict";
}

async function api(method, path, body) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    document.getElementById("login").style.display = "flex";
    throw new Error("a token is needed: sign in");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
  return data;
}

function sourcePath(id) {
  return "/sources/" + encodeURIComponent(id);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function hue(label) {
  let hash = 0;
  for (const character of label) hash = (hash * 31 + character.codePointAt(0)) >>> 0;
  return hash % 360;
}

function makeTile(id) {
  const tile = element("article", "tile");
  tile.dataset.source = id;
  const head = element("div", "head");
  const name = element("span", "name", id);
  name.title = id;
  const remove = element("button", "remove", "Remove");
  remove.type = "button";
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await api("DELETE", sourcePath(id));
      dropTile(id);
    } catch (error) {
      showError(error.message);
      remove.disabled = false;
    }
  });
  head.append(name, remove);
  const view = element("img", "view");
  view.alt = "live view of " + id;
  view.src = sourcePath(id) + "/stream.mjpg";
  const label = element("div", "label", "…");
  const facts = element("div", "facts");
  const parts = {};
  for (const key of ["state", "fps", "age", "drops", "frames"]) {
    parts[key] = element("span", key === "state" ? "state" : key);
    facts.append(parts[key]);
  }
  const lastError = element("div", "last-error");
  const timeline = element("div", "timeline");
  timeline.title = "recent label runs, oldest first";
  tile.append(head, view, label, facts, lastError, timeline);
  document.getElementById("tiles").append(tile);
  return { tile, view, label, parts, lastError, timeline };
}

function dropTile(id) {
  const entry = tiles.get(id);
  if (!entry) return;
  entry.view.src = "";  // closes the MJPEG connection
  entry.tile.remove();
  tiles.delete(id);
}

function showSource(record) {
  let entry = tiles.get(record.id);
  if (!entry) {
    entry = makeTile(record.id);
    tiles.set(record.id, entry);
  }
  entry.label.textContent = record.label === null ? "no label yet" : record.label + " " + Math.round(record.score * 100) + "%";
  entry.parts.state.textContent = record.state;
  entry.parts.state.className = "state " + record.state;
  entry.parts.fps.textContent = record.fps.toFixed(1) + " fps";
  entry.parts.age.textContent = record.result_age_s === null ? "age –" : "age " + record.result_age_s.toFixed(2) + " s";
  entry.parts.drops.textContent = record.frames_dropped + " dropped";
  entry.parts.frames.textContent = record.frames_processed + " frames";
  entry.lastError.textContent = record.state === "running" ? "" : (record.last_error || "");
}

function showRuns(entry, runs) {
  const total = runs.reduce((sum, run) => sum + Math.max(run.duration_s, 0.05), 0);
  const spans = runs.map((run) => {
    const span = element("span");
    span.style.flexGrow = String(Math.max(run.duration_s, 0.05) / total);
    span.style.background = "hsl(" + hue(run.label) + " 60% 50%)";
    span.title = run.label + ": " + run.duration_s.toFixed(1) + " s from " + run.start_time;
    span.dataset.label = run.label;
    return span;
  });
  entry.timeline.replaceChildren(...spans);
}

function showEvents(events) {
  const items = events.slice().reverse().map((event) => {
    const item = element("li");
    item.dataset.eventId = event.event_id;
    item.append(
      element("div", "what", event.source + ": " + (event.previous_label ? event.previous_label + " → " : "") + event.label),
      element("div", "when", event.created_at + " · score " + event.score.toFixed(2)),
    );
    return item;
  });
  document.getElementById("events").replaceChildren(...items);
}

function showError(message) {
  document.getElementById("add-error").textContent = message;
}

async function refreshSources() {
  try {
    const records = await api("GET", "/sources");
    const seen = new Set(records.map((record) => record.id));
    for (const id of [...tiles.keys()]) if (!seen.has(id)) dropTile(id);
    records.forEach(showSource);
    const live = records.filter((record) => record.state === "running").length;
    document.getElementById("status").textContent = records.length + " sources, " + live + " live";
  } catch (error) {
    document.getElementById("status").textContent = error.message;
  }
}

async function refreshHistory() {
  try {
    showEvents(await api("GET", "/events?limit=30"));
    await Promise.all([...tiles.entries()].map(async ([id, entry]) => {
      showRuns(entry, await api("GET", sourcePath(id) + "/segments?limit=30"));
    }));
  } catch (error) {
    // The sources poll says what is wrong; a source removed meanwhile is no error.
  }
}

document.getElementById("add-form").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const button = document.getElementById("add-button");
  const body = { uri: document.getElementById("add-uri").value.trim() };
  const id = document.getElementById("add-id").value.trim();
  if (id) body.id = id;
  showError("");
  button.disabled = true;
  button.textContent = "Adding…";
  try {
    showSource(await api("POST", "/sources", body));
    document.getElementById("add-uri").value = "";
    document.getElementById("add-id").value = "";
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
    button.textContent = "Add camera";
  }
});

document.getElementById("login").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  setToken(document.getElementById("token").value.trim());
  document.getElementById("login").style.display = "none";
  for (const [id, entry] of tiles) entry.view.src = sourcePath(id) + "/stream.mjpg?" + Date.now();
  refreshSources();
});

if (token) setToken(token);
refreshSources();
refreshHistory();
setInterval(refreshSources, 1000);
setInterval(refreshHistory, 2000);
