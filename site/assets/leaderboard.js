// Tables: sort (click or Enter/Space on a header button; numbers sort high-to-low first, missing values always
// last), filter (a source filter may have a default, its select's data-default), choose columns, pick rows to compare. On a board with data-url-state the view (filters, sort,
// columns, picked rows) lives in the address, so a copied URL reopens it. No dependencies, no network.
(function () {
  "use strict";
  function cellValue(td, type) {
    if (!td) return null;
    const s = td.getAttribute("data-sort");
    if (type === "num") return s === null || s === "" ? null : parseFloat(s);
    if (s !== null) return s.toLowerCase();
    const t = td.textContent.trim();
    if (t === "–" || t === "") return null;
    const n = parseFloat(t.replace(/[,%]/g, ""));
    return /^-?[0-9.,]+%?$/.test(t) && !isNaN(n) ? n : t.toLowerCase();
  }
  function headers(table) { return Array.from(table.tHead ? table.tHead.rows[0].cells : []); }
  function renumber(table) {
    if (!table.classList.contains("lb-board")) return;
    let n = 0;
    const limit = table._lbLimit || Infinity;  // phones: the first rows as cards, the rest one tap away
    Array.from(table.tBodies[0].rows).forEach((tr) => {
      const c = tr.cells[0];
      if (!tr.hidden) ++n;
      if (c && !tr.hidden) c.textContent = String(n);
      tr.classList.toggle("lb-over", !tr.hidden && n > limit);
    });
    const more = table._lbMore;
    if (more) {
      const rest = Math.max(0, n - limit);
      more.hidden = rest === 0;
      more.textContent = "Show " + Math.min(rest, PHONE_ROWS) + " more (" + rest + " not shown)";
    }
  }
  const PHONE_ROWS = 25;
  function sortBy(table, th, dir) {
    const col = headers(table).indexOf(th);
    if (col < 0) return;
    const type = th.getAttribute("data-type") || "text";
    if (!dir) {
      const cur = th.getAttribute("aria-sort");
      dir = cur ? (cur === "descending" ? "ascending" : "descending") : (type === "num" ? "descending" : "ascending");
    }
    headers(table).forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", dir);
    if (table._lbRender) { table._lbRender(true); return; }  // a board whose rows are in data/board/ (see below)
    const sign = dir === "ascending" ? 1 : -1;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).map((r, i) => ({ r, i, v: cellValue(r.cells[col], type) }));
    rows.sort((a, b) => {
      if (a.v === null && b.v === null) return a.i - b.i;
      if (a.v === null) return 1;
      if (b.v === null) return -1;
      return (a.v < b.v ? -1 : a.v > b.v ? 1 : 0) * sign || a.i - b.i;
    });
    rows.forEach((x) => body.appendChild(x.r));
    renumber(table);
  }
  function params() { return new URLSearchParams(window.location.search); }
  function setParams(p) {
    const q = p.toString();
    window.history.replaceState(null, "", window.location.pathname + (q ? "?" + q : "") + window.location.hash);
  }

  function initBoard(block, table) {
    const get = (sel) => block.querySelector(sel);
    const text = get(".lb-filter-text"), fam = get(".lb-filter-family"), src = get(".lb-filter-source"),
      meth = get(".lb-filter-method"), sortSel = get(".lb-sort-by"), count = get(".lb-count"),
      cmp = get(".lb-compare"), npicked = get(".lb-npicked");
    const urlState = table.hasAttribute("data-url-state");
    table._lbLimit = PHONE_ROWS;  // the stylesheet hides rows past it on phones only (class lb-over)
    const more = document.createElement("button");
    more.type = "button"; more.className = "md-button lb-more"; more.hidden = true;
    more.addEventListener("click", () => { table._lbLimit += PHONE_ROWS; renumber(table); });
    table.closest(".lb-table-wrap").after(more);
    table._lbMore = more;
    const srcDefault = src ? src.getAttribute("data-default") || "" : "";
    const picked = new Set();
    // A big board (tables.py, INLINE_MAX) holds the first rows of its default view; the rest, and what sorting and
    // filtering read, are JSON files beside it, fetched when needed: the view (filters, sort) is computed over
    // every row's codes and sort values, and only the rows shown are fetched (SHARD_ROWS rows a file).
    const sharded = table.hasAttribute("data-rows");
    const FIRST = +table.getAttribute("data-first") || 100;
    let limit = FIRST, token = 0, index = null, words = null;
    const cache = {};
    const moreRows = document.createElement("button");
    function fetchJSON(name) {
      if (!cache[name]) {
        cache[name] = fetch(table.getAttribute("data-rows") + name).then((r) => {
          if (!r.ok) throw new Error(name + ": HTTP " + r.status);
          return r.json();
        });
      }
      return cache[name];
    }
    async function view() {
      index = await fetchJSON("index.json");
      const t = text ? text.value.trim().toLowerCase() : "";
      if (t) words = await fetchJSON("text.json");
      const want = (name, el) => (el && el.value ? index.dict[name].indexOf(el.value) : null);
      const f = want("family", fam), s = want("source", src), m = want("method", meth);
      const out = [];
      for (let i = 0; i < index.n; i++) {
        if ((f !== null && index.family[i] !== f) || (s !== null && index.source[i] !== s)
          || (m !== null && index.method[i] !== m) || (t && !words[i].includes(t))) continue;
        out.push(i);
      }
      const th = headers(table).find((h) => h.hasAttribute("aria-sort"));
      const key = th ? th.getAttribute("data-col") + ":" + th.getAttribute("aria-sort") : "";
      if (th && key !== table.getAttribute("data-default-sort")) {
        const col = th.getAttribute("data-col"), sign = th.getAttribute("aria-sort") === "ascending" ? 1 : -1;
        const v = col === "run" ? (words = await fetchJSON("text.json")) : await fetchJSON("c-" + col + ".json");
        out.sort((a, b) => {
          const x = v[a], y = v[b];
          if (x === null && y === null) return a - b;
          if (x === null) return 1;
          if (y === null) return -1;
          return (x < y ? -1 : x > y ? 1 : 0) * sign || a - b;
        });
      }
      return out;
    }
    async function render(fresh) {
      if (fresh) limit = FIRST;
      const mine = ++token;
      table.setAttribute("aria-busy", "true");
      try {
        const rows = await view();
        const shown = rows.slice(0, limit), per = index.shard;
        const files = await Promise.all(shown.map((i) => fetchJSON("rows-" + Math.floor(i / per) + ".json")));
        if (mine !== token) return;
        table.tBodies[0].innerHTML = shown.map((i, j) => files[j][i % per]).join("\n");  // the site's own escaped HTML
        bindPicks(); renumber(table); applyColumns();
        if (count) count.textContent = rows.length + " of " + index.n + " rows" + (shown.length < rows.length ? " (" + shown.length + " shown)" : "");
        moreRows.hidden = shown.length >= rows.length;
        moreRows.textContent = "Show " + Math.min(FIRST, rows.length - shown.length) + " more rows (" + (rows.length - shown.length) + " not shown)";
      } catch (e) {
        if (count) count.textContent = "the rows could not be loaded (" + e.message + ")";
      } finally {
        if (mine === token) table.removeAttribute("aria-busy");
      }
    }
    if (sharded) {
      table._lbRender = render;
      moreRows.type = "button"; moreRows.className = "md-button lb-more-rows";
      moreRows.addEventListener("click", () => { limit += FIRST; render(false); });
      const total = +table.getAttribute("data-total"), first = table.tBodies[0].rows.length;
      moreRows.hidden = first >= total;
      moreRows.textContent = "Show " + Math.min(FIRST, total - first) + " more rows (" + (total - first) + " not shown)";
    }
    function visibleTasks() {
      return Array.from(block.querySelectorAll(".lb-col")).filter((c) => c.checked).map((c) => c.value);
    }
    function colIndex(key) { return headers(table).findIndex((h) => h.getAttribute("data-col") === key); }
    function emptyForShownRows(key) {  // no row the filters show has a value in this column
      const i = colIndex(key);
      if (i < 0) return false;
      return !Array.from(table.tBodies[0].rows).some((tr) => {
        if (tr.hidden) return false;
        const t = tr.cells[i] ? tr.cells[i].textContent.trim() : "";
        return t !== "" && t !== "–";
      });
    }
    function applyColumns() {  // hidden columns are classes on the table (the page's stylesheet hides them)
      block.querySelectorAll(".lb-col").forEach((c) => {
        const keys = (c.getAttribute("data-cols") || "").split(" ").filter(Boolean);
        const empty = emptyForShownRows(keys[0]);  // a task's value column (its kept column follows it)
        c.closest("label").classList.toggle("lb-col-empty", empty);
        keys.forEach((k) => table.classList.toggle("lb-hide-" + k, !c.checked || empty));
      });
      ["sparsity", "bits"].forEach((k) => table.classList.toggle("lb-hide-" + k, emptyForShownRows(k)));
    }
    function filter() {
      if (sharded) { render(true); return; }
      const t = text ? text.value.trim().toLowerCase() : "";
      let shown = 0;
      Array.from(table.tBodies[0].rows).forEach((tr) => {
        const ok = (!t || tr.textContent.toLowerCase().includes(t))
          && (!fam || !fam.value || tr.getAttribute("data-family") === fam.value)
          && (!src || !src.value || tr.getAttribute("data-source") === src.value)
          && (!meth || !meth.value || tr.getAttribute("data-method") === meth.value);
        tr.hidden = !ok;
        if (ok) shown++;
      });
      if (count) count.textContent = shown + " of " + table.tBodies[0].rows.length + " rows";
      renumber(table);
      applyColumns();
    }
    function updatePicked() {
      if (npicked) npicked.textContent = String(picked.size);
      if (cmp) {
        const ok = picked.size >= 2 && picked.size <= 6;
        cmp.setAttribute("aria-disabled", ok ? "false" : "true");
        const base = cmp.getAttribute("href").split("?")[0];
        cmp.setAttribute("href", base + (picked.size ? "?rows=" + Array.from(picked).join(",") : ""));
        cmp.title = ok ? "" : "pick 2 to 6 rows";
      }
    }
    function save() {
      if (!urlState) return;
      const p = params();
      const set = (k, v) => (v ? p.set(k, v) : p.delete(k));
      set("filter", text && text.value.trim());  // not "q": MkDocs Material opens its search overlay on ?q=
      set("family", fam && fam.value);
      if (src) {  // the default (e.g. 'reproduced') is no parameter; 'all' is written out when it is not the default
        if (src.value === srcDefault) p.delete("source"); else p.set("source", src.value || "all");
      }
      set("method", meth && meth.value);
      const th = headers(table).find((h) => h.hasAttribute("aria-sort"));
      const def = table.getAttribute("data-default-sort");
      const cur = th ? th.getAttribute("data-col") + ":" + th.getAttribute("aria-sort") : "";
      set("sort", cur !== def ? cur : "");
      const cols = visibleTasks().join(",");
      set("cols", cols !== table.getAttribute("data-default-cols") ? cols : "");
      set("pick", Array.from(picked).join(","));
      setParams(p);
    }
    // defaults, then the URL
    const first = headers(table).find((h) => h.hasAttribute("aria-sort"));
    table.setAttribute("data-default-sort", first ? first.getAttribute("data-col") + ":" + first.getAttribute("aria-sort") : "");
    table.setAttribute("data-default-cols", visibleTasks().join(","));
    if (urlState) {
      const p = params();
      const setSel = (el, v) => { if (el && v !== null && Array.from(el.options).some((o) => o.value === v)) el.value = v; };
      const words = p.get("filter") || p.get("q");  // ?q= links from before keep working (the page moves them to ?filter=)
      if (text && words) text.value = words;
      setSel(fam, p.get("family")); setSel(src, p.get("source") === "all" ? "" : p.get("source")); setSel(meth, p.get("method"));
      if (p.get("cols") !== null) {
        const want = new Set(p.get("cols").split(","));
        block.querySelectorAll(".lb-col").forEach((c) => { c.checked = want.has(c.value); });
      }
      (p.get("pick") || "").split(",").filter(Boolean).forEach((k) => picked.add(k));
      const s = p.get("sort");
      if (s) {
        const [col, dir] = s.split(":");
        const th = headers(table).find((h) => h.getAttribute("data-col") === col);
        if (th) sortBy(table, th, dir === "ascending" ? "ascending" : "descending");
        if (th && sortSel && Array.from(sortSel.options).some((o) => o.value === col)) sortSel.value = col;
      }
    }
    function bindPicks() {
      table.querySelectorAll(".lb-pick").forEach((box) => {
        box.checked = picked.has(box.value);
        box.addEventListener("change", () => {
          if (box.checked) picked.add(box.value); else picked.delete(box.value);
          updatePicked(); save();
        });
      });
    }
    bindPicks();
    headers(table).forEach((th) => {
      const b = th.querySelector("button");
      if (b) b.addEventListener("click", () => { sortBy(table, th); if (sortSel) sortSel.value = ""; save(); });
    });
    if (sortSel) sortSel.addEventListener("change", () => {
      const th = headers(table).find((h) => h.getAttribute("data-col") === sortSel.value);
      if (th) { sortBy(table, th); save(); }
    });
    [text, fam, src, meth].forEach((el) => el && el.addEventListener("input", () => { filter(); save(); }));
    block.querySelectorAll(".lb-col").forEach((c) => c.addEventListener("change", () => { applyColumns(); save(); }));
    if (sharded) {
      more.after(moreRows);
      // the page holds the default view: fetch rows only when the address asks for another view
      const p = params(), stateful = urlState && ["filter", "q", "family", "source", "method", "sort"].some((k) => p.has(k));
      if (stateful) render(true);
      else {
        applyColumns(); renumber(table);
        if (count) count.textContent = table.getAttribute("data-total") + " of " + table.getAttribute("data-all") + " rows ("
          + table.tBodies[0].rows.length + " shown)";
      }
      updatePicked();
      return;
    }
    applyColumns(); filter(); updatePicked();
  }

  function init() {
    document.querySelectorAll("table.lb-board").forEach((table) => {
      const block = table.closest(".lb-block") || document;
      initBoard(block, table);
    });
    document.querySelectorAll("table.lb-sortable:not(.lb-board)").forEach((table) => {
      headers(table).forEach((th) => {
        if (th.querySelector("button")) return;
        const b = document.createElement("button");
        b.type = "button";
        while (th.firstChild) b.appendChild(th.firstChild);
        th.appendChild(b);
        b.addEventListener("click", () => sortBy(table, th));
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
