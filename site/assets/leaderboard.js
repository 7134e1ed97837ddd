// Sortable, filterable tables. No dependencies, no network.
(function () {
  function cellValue(td) {
    if (!td) return "";
    const s = td.getAttribute("data-sort");
    if (s !== null) return parseFloat(s);
    const t = td.textContent.trim();
    const n = parseFloat(t.replace("%", ""));
    return t !== "–" && !isNaN(n) && /^-?[0-9.]+%?$/.test(t) ? n : t.toLowerCase();
  }
  function sortBy(table, col, th) {
    const body = table.tBodies[0];
    const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
      if (x === "–" || x === "") return 1;
      if (y === "–" || y === "") return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    rows.forEach((r) => body.appendChild(r));
  }
  function filter(block) {
    const text = (block.querySelector(".lb-filter-text") || {}).value || "";
    const fam = (block.querySelector(".lb-filter-family") || {}).value || "";
    const src = (block.querySelector(".lb-filter-source") || {}).value || "";
    block.querySelectorAll("table.lb-table tbody tr").forEach((tr) => {
      const okText = !text || tr.textContent.toLowerCase().includes(text.toLowerCase());
      const okFam = !fam || (tr.cells[1] && tr.cells[1].textContent.trim() === fam);
      const okSrc = !src || tr.classList.contains("lb-src-" + src);
      tr.hidden = !(okText && okFam && okSrc);
    });
  }
  function init() {
    document.querySelectorAll("table.lb-sortable").forEach((table) => {
      table.querySelectorAll("thead th").forEach((th, i) => th.addEventListener("click", () => sortBy(table, i, th)));
    });
    document.querySelectorAll(".lb-block").forEach((block) => {
      block.querySelectorAll(".lb-filters input, .lb-filters select").forEach((el) =>
        el.addEventListener("input", () => filter(block)));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
