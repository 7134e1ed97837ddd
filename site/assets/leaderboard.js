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
    table.querySelectorAll(".lb-pick").forEach((box) => {
      box.checked = picked.has(box.value);
      box.addEventListener("change", () => {
        if (box.checked) picked.add(box.value); else picked.delete(box.value);
        updatePicked(); save();
      });
    });
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
