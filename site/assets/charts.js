// Interactive charts: each figure holds a static SVG and its Vega-Lite spec; vega-embed (served with the
// site, no CDN) replaces the picture with a live view (tooltips, legend selection).
for (const fig of document.querySelectorAll("figure.lb-chart")) {
  const specEl = fig.querySelector("script.lb-spec");
  if (!specEl || !window.vegaEmbed) continue;
  const view = document.createElement("div");
  view.className = "lb-vega";
  fig.insertBefore(view, fig.querySelector("figcaption"));
  window.vegaEmbed(view, JSON.parse(specEl.textContent), { actions: false, renderer: "svg" })
    .then(() => { fig.querySelector("img").style.display = "none"; fig.classList.add("lb-interactive"); })
    .catch((err) => { view.remove(); console.warn("chart stays static:", err); });
}
