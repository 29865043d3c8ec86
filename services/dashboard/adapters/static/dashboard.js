// The overview's figures and charts, redrawn whenever the server says new figures are stored
// (server-sent events from /api/handelser). plotly.js is served by the project (/vendor/).
"use strict";

const sv = new Intl.NumberFormat("sv-SE");
const MODES = {on_site: "På plats", digital: "Digitalt", mixed: "Blandat"};
const LEVELS = {ny: "Ny", van: "Van", erfaren: "Erfaren", chef: "Arbetsledare och chef"};
const LAYOUT = {margin: {t: 40, r: 10, b: 80, l: 60}, font: {family: "system-ui, sans-serif"},
                legend: {orientation: "h", y: -0.25}, separators: ", "};
const CONFIG = {displaylogo: false, responsive: true, locale: "sv"};

function pick(cell, path) {
  return path.split(".").reduce((v, k) => (v == null ? v : v[k]), cell);
}

function format(value, how) {
  if (value == null) return "–";
  if (how === "procent") return (value * 100).toFixed(1).replace(".", ",") + " %";
  return sv.format(value);
}

let drawn = Promise.resolve();

function draw(id, traces, title, extra) {
  // each chart in a task of its own, in order: the page answers (and paints) between them
  drawn = drawn.then(() => new Promise((done) => setTimeout(() => {
    try {
      const el = document.getElementById(id);
      if (el && typeof Plotly !== "undefined") {
        Plotly.react(el, traces, Object.assign({}, LAYOUT, {title: {text: title}}, extra || {}),
                     CONFIG);
      }
    } finally {
      done();  // a chart that failed does not hold back the next
    }
  }, 0)));
}

function bars(rows, label, series) {
  return series.map(([key, name]) => ({type: "bar", name, x: rows.map(label),
                                       y: rows.map((r) => pick(r, key))}));
}

function evaluations(cell) {
  const modes = Object.keys(cell.evaluations || {});
  const names = modes.map((m) => MODES[m] || m);
  return [
    {type: "bar", name: "Medelbetyg (1–5)", x: names, offsetgroup: 1,
     y: modes.map((m) => cell.evaluations[m].mean)},
    {type: "bar", name: "Svarsfrekvens", x: names, yaxis: "y2", offsetgroup: 2,
     y: modes.map((m) => cell.evaluations[m].response_rate)},
  ];
}

function everyMonth(cells) {
  // Every month from the first to the last, a month without figures as zeros: a line drawn
  // only through the months that have some would show growth where nothing happened.
  const known = new Map(cells.map((c) => [c.id, c]));
  const ids = [...known.keys()].sort();
  if (ids.length === 0) return [];
  const out = [];
  let [year, month] = ids[0].split("-").map(Number);
  const last = ids[ids.length - 1];
  for (;;) {
    const id = `${year}-${String(month).padStart(2, "0")}`;
    out.push(known.get(id) || {id, participant_days: 0, completions: 0, registered: 0});
    if (id >= last || out.length > 1200) return out;
    [year, month] = month === 12 ? [year + 1, 1] : [year, month + 1];
  }
}

function render(data) {
  const cell = data.cell;
  document.querySelectorAll("[data-figure]").forEach((el) => {
    el.textContent = format(pick(cell, el.dataset.figure), el.dataset.format);
  });
  rows(data.children);
  const stamp = document.getElementById("updated");
  if (stamp) {
    stamp.dataset.version = data.version;
    stamp.textContent = "Senast uppdaterad " + new Date().toLocaleTimeString("sv-SE") + ".";
  }
  // The charts after the figures are on the screen (the frame painted first): redrawing them
  // takes plotly far longer than the figures, and drawn in the same task they held the new
  // figures back from the screen until the last chart was done.
  requestAnimationFrame(() => setTimeout(() => charts(data), 0));
}

function charts(data) {
  const cell = data.cell;
  const twoAxes = {barmode: "group", margin: {t: 40, r: 60, b: 80, l: 60}, yaxis: {title: {text: "Medelbetyg"}, range: [0, 5]},
                   yaxis2: {overlaying: "y", side: "right", range: [0, 1], tickformat: ".0%"}};
  if (data.level === "nation") {
    const months = everyMonth(data.months.filter((m) => m.id !== "okänd"));
    draw("chart-months", [
      {type: "scatter", mode: "lines", name: "Deltagardagar", x: months.map((m) => m.id),
       y: months.map((m) => m.participant_days)},
      {type: "scatter", mode: "lines", name: "Genomförda kurser", x: months.map((m) => m.id),
       y: months.map((m) => m.completions)},
      {type: "scatter", mode: "lines", name: "Nya deltagare", x: months.map((m) => m.id),
       y: months.map((m) => m.registered)},
    ], "Per månad");
    draw("chart-children", bars(data.children, (r) => r.name,
      [["participant_days", "Deltagardagar"], ["completions", "Genomförda kurser"]]),
      "Per region", {barmode: "group"});
    draw("chart-courses", bars(data.courses, (r) => r.name,
      [["completions", "Genomförda"], ["started", "Påbörjade"]]), "Per kurs", {barmode: "group"});
    draw("chart-levels", bars(data.levels, (r) => LEVELS[r.id] || r.id,
      [["registered", "Registrerade"], ["completions", "Genomförda kurser"]]), "Per nivå",
      {barmode: "group"});
    draw("chart-modes", evaluations(cell), "Utvärderingar per form", twoAxes);
  } else if (data.level === "region") {
    draw("chart-children", bars(data.children, (r) => r.name,
      [["participant_days", "Deltagardagar"], ["completions", "Genomförda kurser"],
       ["registered", "Registrerade"]]), "Per kommun", {barmode: "group"});
    draw("chart-modes", evaluations(cell), "Utvärderingar per form", twoAxes);
    const years = Object.keys(cell.pot_by_year || {});
    draw("chart-pot", [{type: "bar", name: "Utbildarpott (kr)", x: years,
                        y: years.map((y) => cell.pot_by_year[y])}], "Utbildarpott per år",
      {xaxis: {type: "category"}});
  } else {
    draw("chart-own", [{type: "bar", name: cell.name,
      x: ["Registrerade", "Aktiva", "Deltagardagar", "Genomförda kurser", "Intyg"],
      y: [cell.registered, cell.active, cell.participant_days, cell.completions,
          cell.certificates]}], "Kommunens siffror");
  }
}

function rows(children) {
  const body = document.querySelector("#children tbody");
  if (!body) return;
  body.replaceChildren(...children.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.key = c.dimension + ":" + c.id;
    const link = document.createElement("a");
    link.href = "/oversikt/" + (c.dimension === "region" ? "region" : "kommun") + "/" + c.id;
    link.textContent = c.name;
    const first = document.createElement("td");
    first.append(link);
    tr.append(first);
    for (const [key, how] of [["registered"], ["active"], ["participant_days"], ["completions"],
                              ["completion_rate", "procent"], ["pot_sek"]]) {
      const td = document.createElement("td");
      td.textContent = format(c[key], how);
      tr.append(td);
    }
    return tr;
  }));
}

async function refresh(api) {
  const response = await fetch(api, {credentials: "same-origin"});
  if (response.ok) render(await response.json());
}

const kpis = document.getElementById("kpis");
if (kpis) {
  const api = kpis.dataset.api;
  refresh(api);
  const source = new EventSource("/api/handelser");
  source.addEventListener("figures", () => refresh(api));
}
