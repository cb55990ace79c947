// The try-it page: sends each picture to the server's PaddleX API with pyml's opt-in
// returnAllScores, shows the answer as score bars, and re-filters every answer locally
// when the threshold slider moves. No framework, no build step, nothing from outside
// this server.
"use strict";

const API = "/multilabel-image-classification";
const page = {
  models: [],
  threshold: null, // null: the server's own answer (the model's thresholds); else one for every class
  cards: [],
  token: null, // the bearer token the user typed, for a server run with --token_file; never stored
};

const $ = (selector, root = document) => root.querySelector(selector);

function chosenModel() {
  const picker = $("#model");
  return page.models.length > 1 ? picker.value : null;
}

// Headers for a call to the server: the token, when the user gave one.
function authorized(headers = {}) {
  return page.token === null ? headers : { ...headers, Authorization: `Bearer ${page.token}` };
}

// A 401: the server wants a token (or another one); ask for it.
function askForToken(message) {
  const form = $("#token-form");
  form.hidden = false;
  const error = $("#token-error");
  error.textContent = message;
  error.hidden = !message;
  $("#token").focus();
}

async function loadModels() {
  const response = await fetch("/models", { headers: authorized() });
  if (response.status === 401) {
    askForToken(page.token === null ? "" : "the server refused this token");
    return;
  }
  $("#token-form").hidden = true;
  const body = await response.json();
  page.models = body.models;
  const picker = $("#model");
  picker.replaceChildren();
  for (const model of page.models) {
    const option = document.createElement("option");
    option.value = model.name;
    option.textContent = model.name === model.modelName ? model.name : `${model.name} (${model.modelName})`;
    option.selected = model.default;
    picker.append(option);
  }
  $("#model-picker").hidden = page.models.length < 2;
  if (body.metricsPort) {
    const link = $("#metrics-link");
    link.href = `${location.protocol}//${location.hostname}:${body.metricsPort}/metrics`;
    link.hidden = false;
  }
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// PaddleX's 422 errorMsg is a JSON list of {type, loc, msg}; other errors are plain text.
function errorText(body, status) {
  const message = body && body.errorMsg ? body.errorMsg : `HTTP ${status}`;
  try {
    const items = JSON.parse(message);
    if (Array.isArray(items)) return items.map((e) => e.msg).join("\n");
  } catch (_) {
    // a plain message
  }
  return message;
}

async function ask(card, extra) {
  const request = { image: card.image, visualize: false, returnAllScores: true, ...extra };
  const model = card.model;
  if (model) request.modelName = model;
  const response = await fetch(API, {
    method: "POST",
    headers: authorized({ "Content-Type": "application/json" }),
    body: JSON.stringify(request),
  });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (response.status === 401) askForToken(errorText(body, response.status));
  if (!response.ok || !body || body.errorCode !== 0) throw new Error(errorText(body, response.status));
  return body.result;
}

// `threshold` (optional) greys the bar of a class that does not pass it.
function labelItem(entry, threshold = null) {
  const item = document.createElement("li");
  item.className = "label" + (threshold === null || entry.score > threshold ? "" : " below");
  item.dataset.id = entry.id;
  item.dataset.name = entry.name;
  item.dataset.score = entry.score;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = entry.name;
  const bar = document.createElement("span");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = `${Math.round(entry.score * 100)}%`;
  bar.append(fill);
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = entry.score.toFixed(5);
  item.append(name, bar, score);
  return item;
}

// The labels shown: the server's categories as answered, or every class over the slider's value.
function shownLabels(result) {
  if (page.threshold === null) return result.categories;
  return result.allScores
    .filter((entry) => entry.score > page.threshold)
    .sort((a, b) => b.score - a.score || a.id - b.id);
}

function render(card) {
  const root = card.element;
  if (!card.result) return;
  const labels = $(".labels", root);
  const shown = shownLabels(card.result);
  labels.replaceChildren(...shown.map((entry) => labelItem(entry)));
  const rule = page.threshold === null ? "the model's thresholds" : `threshold ${page.threshold.toFixed(2)}`;
  $(".status", root).textContent = shown.length
    ? `${shown.length} label(s) at ${rule}`
    : `no label at ${rule}`;
  const all = $(".all-scores", root);
  all.replaceChildren(
    ...card.result.allScores.map((entry) =>
      labelItem(entry, page.threshold === null ? card.result.thresholds[entry.id] : page.threshold),
    ),
  );
  $(".all", root).hidden = false;
}

function fail(card, message) {
  card.element.classList.add("failed");
  $(".status", card.element).textContent = "refused by the server";
  const error = $(".error", card.element);
  error.textContent = message;
  error.hidden = false;
}

async function classify(file) {
  const element = $("#result-template").content.firstElementChild.cloneNode(true);
  element.dataset.name = file.name;
  const thumbnail = $("figure img", element);
  thumbnail.addEventListener("error", () => thumbnail.classList.add("unreadable")); // no broken-image icon
  thumbnail.src = URL.createObjectURL(file);
  $(".name", element).textContent = file.name;
  $("#results").prepend(element);
  const card = { element, file, model: chosenModel(), result: null, image: null };
  page.cards.push(card);
  try {
    card.image = await base64Of(file);
    card.result = await ask(card);
    element.classList.add("answered");
    if (page.threshold === null) restSlider();
    render(card);
    const draw = $(".draw", element);
    draw.hidden = false;
    draw.addEventListener("click", () => showDrawing(card));
  } catch (error) {
    fail(card, error.message);
  }
}

async function showDrawing(card) {
  const button = $(".draw", card.element);
  button.disabled = true;
  try {
    const result = await ask(card, { visualize: true, returnAllScores: false });
    const img = $(".drawn", card.element);
    img.src = `data:image/jpeg;base64,${result.image}`;
    img.hidden = false;
    button.hidden = true;
  } catch (error) {
    fail(card, error.message);
  } finally {
    button.disabled = false;
  }
}

function classifyAll(files) {
  for (const file of files) classify(file);
}

// With the model's thresholds in force, the slider rests on them when they are one value.
function restSlider() {
  const answered = page.cards.find((card) => card.result);
  if (!answered) return;
  const [first, ...rest] = answered.result.thresholds;
  if (rest.every((t) => t === first)) $("#threshold").value = first;
}

function setThreshold(value) {
  page.threshold = value;
  $("#threshold-value").textContent = value === null ? "model's" : value.toFixed(2);
  if (value === null) restSlider();
  page.cards.forEach(render);
}

function wire() {
  const drop = $("#drop");
  $("#files").addEventListener("change", (event) => {
    classifyAll(event.target.files);
    event.target.value = "";
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    classifyAll(event.dataTransfer.files);
  });
  document.addEventListener("paste", (event) => {
    const files = [...event.clipboardData.items].filter((i) => i.kind === "file").map((i) => i.getAsFile());
    classifyAll(files);
  });
  $("#threshold").addEventListener("input", (event) => setThreshold(Number(event.target.value)));
  $("#model-thresholds").addEventListener("click", () => setThreshold(null));
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    page.token = $("#token").value;
    loadModels().catch((error) => {
      document.body.dataset.error = error.message;
    });
  });
  setThreshold(null);
}

wire();
loadModels().catch((error) => {
  document.body.dataset.error = error.message;
});
