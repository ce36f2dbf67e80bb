// Bullpen's chat page: no build step. Streams /v1/chat/completions (OpenAI's SSE chunks),
// shows tool calls from `bullpen_event` deltas, the verified answer, citations and the count
// of unsupported numbers. `?q=…&model=…&key=…` sends a message on load.
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const keyInput = $("key");
keyInput.value = params.get("key") || localStorage.getItem("bullpen.key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("bullpen.key", keyInput.value); loadModels(); });
let history = [];

function headers() {
  const h = { "Content-Type": "application/json" };
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}

async function loadModels() {
  const sel = $("model");
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    if (!r.ok) throw new Error((await r.json()).error.message);
    const list = (await r.json()).data;
    sel.innerHTML = "";
    for (const m of list) {
      const o = document.createElement("option");
      o.value = m.id; o.textContent = m.id; o.title = m.description;
      sel.appendChild(o);
    }
    sel.value = params.get("model") || "agent:director";
  } catch (e) {
    sel.innerHTML = "<option>(models: " + e.message + ")</option>";
  }
}

function add(cls, text) {
  const d = document.createElement("div");
  d.className = "msg " + cls;
  d.textContent = text;
  $("log").appendChild(d);
  return d;
}

async function send(text) {
  const model = $("model").value;
  add("user", text);
  history.push({ role: "user", content: text });
  const box = add("assistant", "");
  box.dataset.state = "streaming";
  const answer = document.createElement("div");
  answer.className = "answer";
  const steps = document.createElement("ul");
  steps.className = "steps";
  const meta = document.createElement("div");
  meta.className = "meta";
  box.append(steps, answer, meta);
  $("send").disabled = true;
  try {
    const body = { model, messages: history, stream: true };
    if (model.startsWith("agent:")) body.mode = $("mode").value;
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!r.ok) throw new Error((await r.json()).error.message);
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of block.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          const delta = (chunk.choices && chunk.choices[0] && chunk.choices[0].delta) || {};
          if (delta.content) answer.textContent += delta.content;
          const ev = delta.bullpen_event;
          if (ev) event(ev, steps, meta);
        }
      }
    }
    history.push({ role: "assistant", content: answer.textContent });
    box.dataset.state = "done";
  } catch (e) {
    answer.innerHTML = "";
    const err = document.createElement("span");
    err.className = "error";
    err.textContent = "error: " + e.message;
    answer.appendChild(err);
    box.dataset.state = "error";
    history.pop();
  } finally {
    $("send").disabled = false;
  }
}

function event(ev, steps, meta) {
  const li = document.createElement("li");
  if (ev.type === "routed") li.textContent = "routed to " + ev.agents.join(", ") + " (" + ev.method + ")";
  else if (ev.type === "tool_started") li.textContent = ev.agent + " → " + ev.name + " " + JSON.stringify(ev.arguments);
  else if (ev.type === "tool_finished") { if (ev.ok) return; li.textContent = ev.name + " failed: " + ev.summary; li.className = "fail"; }
  else if (ev.type === "summarised") li.textContent = ev.agent + " summarised " + ev.messages + " earlier messages";
  else if (ev.type === "result") {
    const r = ev.result;
    const parts = ["run " + r.run_id, r.agents.join(" → "), r.numbers_checked + " numbers checked, " + r.unsupported_numbers + " unsupported"];
    meta.textContent = parts.join(" · ");
    if (r.citations.length) meta.textContent += "\nsources: " + r.citations.join("; ");
    if (r.data.length) meta.textContent += "\ndata: " + r.data.join("\n");
    return;
  } else return;
  steps.appendChild(li);
}

$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("form").requestSubmit(); }
});

loadModels().then(() => { const q = params.get("q"); if (q) send(q); });
