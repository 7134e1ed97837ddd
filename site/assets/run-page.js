// Run pages (runs/<run_id>.html): each page holds its title and its blocks as JSON in <pre class="lb-run-data"> (what a
// reader without JavaScript sees: the raw data); this script, loaded once for every run page (runs/page.js, which
// the build writes with the site's sections before it), turns the blocks into the page. Text from run files only
// ever becomes text nodes; links keep to the site, the repository or http(s). Block format: render/pages/runs.py.
(function () {
  "use strict";
  var SITE = window.LB_SITE || {nav: [], repo: ""};
  // Material's storage helpers (its pages define them in the head) and the palette the reader chose there
  window.__md_scope = new URL("..", location);
  window.__md_get = function (k, s, t) {
    s = s || localStorage; t = t || window.__md_scope;
    try { return JSON.parse(s.getItem(t.pathname + "." + k)); } catch (e) { return null; }
  };
  window.__md_set = function (k, v, s, t) {
    s = s || localStorage; t = t || window.__md_scope;
    try { s.setItem(t.pathname + "." + k, JSON.stringify(v)); } catch (e) { /* storage off: the default palette */ }
  };
  var palette = (window.__md_get("__palette") || {}).color;
  if (palette) {
    for (var k in palette) if (k !== "media" && /^[a-z-]+$/.test(k)) document.body.setAttribute("data-md-color-" + k, String(palette[k]));
  } else if (window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches) {
    document.body.setAttribute("data-md-color-scheme", "slate");
  }

  function el(tag, cls, children) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function text(s) { return document.createTextNode(s === null || s === undefined ? "–" : String(s)); }
  function href(h) {
    h = String(h);
    if (h.indexOf("@repo/") === 0) return SITE.repo ? SITE.repo + h.slice(6) : null;
    if (/^https?:\/\/[^\s]+$/i.test(h) || /^[^:\s]+$/.test(h)) return h;
    return null;  // no other scheme (javascript:, data:) ever becomes a link
  }
  function inline(x) {
    if (!Array.isArray(x)) return text(x);
    var kind = x[0];
    if (kind === "a") {
      var h = href(x[1]);
      if (h === null) return text(x[2]);
      var a = el("a", null, [text(x[2])]);
      a.setAttribute("href", h);
      return a;
    }
    if (kind === "c") return el("code", null, [text(x[1])]);
    if (kind === "s") return el("code", "lb-sub", [text(x[1])]);
    if (kind === "b") return el("strong", null, [text(x[1])]);
    if (kind === "badge") {
      var b = el("span", "lb-badge lb-" + String(x[1]).replace(/[^a-z0-9-]/g, ""), [text(x[2])]);
      if (x[3]) b.setAttribute("title", String(x[3]));
      return b;
    }
    return text(JSON.stringify(x));
  }
  function cell(tag, v) {
    var c = document.createElement(tag);
    if (Array.isArray(v)) v.forEach(function (x) { c.appendChild(inline(x)); });
    else c.appendChild(text(v));
    return c;
  }
  function table(cls, headers, numeric, rows) {
    var t = el("table", String(cls));
    var cards = /\blb-cards\b/.test(String(cls));
    var tr = el("tr");
    headers.forEach(function (h, i) {
      var th = el("th", numeric.indexOf(i) >= 0 ? "lb-num" : null, [text(h)]);
      th.setAttribute("scope", "col");
      tr.appendChild(th);
    });
    t.appendChild(el("thead", null, [tr]));
    var body = el("tbody");
    rows.forEach(function (row) {
      var r = el("tr");
      row.forEach(function (v, j) {
        var td = cell("td", v);
        if (numeric.indexOf(j) >= 0) td.className = "lb-num";
        if (typeof v === "number") td.setAttribute("data-sort", String(v));
        if (cards && j < headers.length) td.setAttribute("data-label", String(headers[j]));
        r.appendChild(td);
      });
      body.appendChild(r);
    });
    t.appendChild(body);
    return el("div", "lb-table-wrap", [t]);
  }
  function block(b) {
    switch (b[0]) {
      case "h2": case "h3": return el(b[0], null, [text(b[1])]);
      case "p": {
        var p = cell("p", b[2]);
        if (b[1]) p.className = String(b[1]);
        if (/banner|correction|lineage/.test(String(b[1]))) p.setAttribute("role", "note");
        return p;
      }
      case "table": return table(b[1], b[2], b[3], b[4]);
      case "dl": {
        var dl = el("dl", "lb-dl");
        b[1].forEach(function (kv) { dl.appendChild(cell("dt", kv[0])); dl.appendChild(cell("dd", kv[1])); });
        return dl;
      }
      case "pre": return el("pre", "lb-code", [el("code", null, [text(b[1])])]);
      default: return text("");
    }
  }
  function render() {
    var nav = document.querySelector(".lb-mini-header nav");
    if (nav && !nav.children.length) {
      SITE.nav.forEach(function (n, i) {
        var a = el("a", null, [text(n[1])]);
        a.setAttribute("href", href(n[0]) || "#");
        if (i) nav.appendChild(text(" "));
        nav.appendChild(a);
      });
    }
    var data = document.querySelector("pre.lb-run-data");
    if (!data) return;
    var doc;
    try { doc = JSON.parse(data.textContent); } catch (e) { return; }  // the raw data stays on the page
    var frag = document.createDocumentFragment();
    doc.forEach(function (b) { frag.appendChild(block(b)); });
    var status = frag.firstChild;
    var h1 = document.getElementById("run-title");
    data.parentNode.replaceChild(frag, data);
    if (h1 && status && status.classList && status.classList.contains("lb-page-status")) h1.parentNode.insertBefore(status, h1);
    document.documentElement.classList.remove("no-js");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", render);
  else render();
})();
