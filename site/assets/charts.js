// Interactive charts: each figure holds a static SVG and its Vega-Lite spec; vega-embed (served with the
// site, no CDN, loaded only by pages with a chart) replaces the picture with a live view: tooltips, a legend
// that highlights the method clicked, points that open their run. Panels wrap to the width of the screen
// (one column on a phone), and the colours of text and axes follow the light/dark palette.
const figures = Array.from(document.querySelectorAll("figure.lb-chart"));

function dark() {
  return document.body.getAttribute("data-md-color-scheme") === "slate";
}

function themed(spec, width) {
  const s = JSON.parse(JSON.stringify(spec));
  const fg = dark() ? "#e6e6e6" : "#222", grid = dark() ? "#3a3a3a" : "#e6e6e6";
  s.config = s.config || {};
  s.config.background = null;
  for (const k of ["axis", "legend", "header", "title"]) s.config[k] = s.config[k] || {};
  Object.assign(s.config.axis, { labelColor: fg, titleColor: fg, gridColor: grid, domainColor: fg, tickColor: fg });
  Object.assign(s.config.legend, { labelColor: fg, titleColor: fg });
  Object.assign(s.config.header, { labelColor: fg, titleColor: fg });
  Object.assign(s.config.title, { color: fg, subtitleColor: fg });
  s.config.view = Object.assign({}, s.config.view, { stroke: grid });
  if (s.facet && s.spec) {  // small multiples: as many columns as fit, at least 220 px wide each
    const cols = Math.max(1, Math.min(s.columns || 1, Math.floor((width - 40) / 300)));
    s.columns = cols;
    if (typeof s.spec.width === "number") s.spec.width = Math.max(180, Math.min(460, Math.floor((width - 40) / cols) - 90));
  } else if (typeof s.width === "number" && width < 640) {
    s.width = Math.max(200, width - 140);
  }
  const title = typeof s.title === "string" ? s.title : s.title && typeof s.title.text === "string" ? s.title.text : null;
  if (title && title.length * 8.5 > width - 40) {  // a long title wraps onto lines that fit (it was cut off on a phone)
    const max = Math.max(20, Math.floor((width - 40) / 8.5)), lines = [];
    let cur = "";
    for (const w of title.split(" ")) {
      if (cur && (cur + " " + w).length > max) { lines.push(cur); cur = w; } else cur = cur ? cur + " " + w : w;
    }
    if (cur) lines.push(cur);
    s.title = Object.assign({}, typeof s.title === "object" ? s.title : {}, { text: lines, limit: 0 });
  }
  if (width < 640) {
    s.config.legend = Object.assign(s.config.legend, { orient: "bottom", columns: 1, labelLimit: width - 60 });
    s.config.axis.labelFontSize = 11; s.config.axis.titleFontSize = 11;
  }
  return s;
}

async function embed(fig) {
  const specEl = fig.querySelector("script.lb-spec");
  if (!specEl || !window.vegaEmbed) return;
  let view = fig.querySelector(".lb-vega");
  if (!view) {
    const outer = document.createElement("div");  // vega-embed sets its own role on the element it fills
    outer.className = "lb-vega";
    outer.setAttribute("role", "img");
    outer.setAttribute("aria-label", fig.getAttribute("data-label") || fig.querySelector("img").alt);
    view = document.createElement("div");
    view.className = "lb-vega-view";
    outer.appendChild(view);
    fig.insertBefore(outer, fig.querySelector("figcaption"));
  } else {
    view = view.querySelector(".lb-vega-view");
  }
  const width = Math.min(fig.clientWidth || fig.parentElement.clientWidth || window.innerWidth, window.innerWidth);
  try {
    const result = await window.vegaEmbed(view, themed(JSON.parse(specEl.textContent), width),
      { actions: false, renderer: "svg", loader: { target: "_self" }, tooltip: { theme: dark() ? "dark" : "light" } });
    fig.querySelector("img").style.display = "none";
    fig.classList.add("lb-interactive");
    const svg = view.querySelector("svg");
    if (svg) { svg.setAttribute("role", "img"); svg.setAttribute("aria-label", view.parentElement.getAttribute("aria-label")); }
    fig._view = result.view;
    legendHighlight(view);
  } catch (err) {
    view.parentElement.remove();
    console.warn("chart stays static:", err);
  }
}

// Legend highlight: a click (or Enter) on a method in the legend dims every other method's marks; again restores.
// Each method has its own colour site-wide, so a mark belongs to the method whose colour it is drawn in.
function legendHighlight(view) {
  const svg = view.querySelector("svg");
  const legend = svg && svg.querySelector(".role-legend");  // the first legend is the method (colour) legend
  if (!legend) return;
  let picked = null;
  const colourOf = (entry) => {
    const sym = entry.querySelector(".role-legend-symbol path");
    return sym ? (sym.getAttribute("fill") !== "transparent" && sym.getAttribute("fill") !== "none" ? sym.getAttribute("fill") : sym.getAttribute("stroke")) : null;
  };
  const apply = () => {
    svg.querySelectorAll(".mark-line path, .mark-symbol path, .mark-rule line").forEach((m) => {
      if (m.closest(".role-legend")) return;
      const c = (m.getAttribute("stroke") || m.getAttribute("fill") || "").toLowerCase();
      m.style.opacity = picked && c !== picked && c !== "#6b6b6b" ? "0.12" : "";
    });
    legend.querySelectorAll(".role-legend-entry > g > g").forEach((e) => {
      e.style.opacity = picked && colourOf(e).toLowerCase() !== picked ? "0.4" : "";
      e.setAttribute("aria-pressed", picked && colourOf(e).toLowerCase() === picked ? "true" : "false");
    });
  };
  legend.querySelectorAll(".role-legend-entry > g > g").forEach((entry) => {
    const colour = (colourOf(entry) || "").toLowerCase();
    if (!colour) return;
    entry.style.cursor = "pointer";
    entry.style.pointerEvents = "all";
    entry.querySelectorAll("*").forEach((x) => { x.style.pointerEvents = "all"; });
    entry.setAttribute("tabindex", "0");
    entry.setAttribute("role", "button");
    const toggle = (ev) => { ev.stopPropagation(); picked = picked === colour ? null : colour; apply(); };
    entry.addEventListener("click", toggle);
    entry.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(ev); } });
  });
}

function renderAll() {
  for (const fig of figures) {
    if (fig._view) { fig._view.finalize(); fig._view = null; }
    embed(fig);
  }
}

renderAll();
new MutationObserver(renderAll).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
let lastWidth = window.innerWidth;
window.addEventListener("resize", () => {
  if (Math.abs(window.innerWidth - lastWidth) > 80) { lastWidth = window.innerWidth; renderAll(); }
});
