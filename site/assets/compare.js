// The compare page: 2-6 picked rows (model x compression) side by side, per-relation differences and facts
// forgotten / newly right between two runs. Static: it reads data/compare/index.json (tasks, names, the example, the
// picker's models), the shards rows-<first hex digits of the key>.json of the rows in view, models/<m>.json (a
// model's rows by readable name) when the picker names a model, and data/facts/*.json. The view lives in the URL
// (?rows=k1,k2&a=k1&b=k2&task=lama:trex&rsort=drop). Text from run files goes in as text nodes (never as HTML).
(function () {
  "use strict";
  const root = document.getElementById("lb-compare");
  if (!root) return;
  const out = root.querySelector(".lb-compare-out");
  const add = root.querySelector(".lb-compare-add");
  const options = document.getElementById("lb-compare-options");
  const permalink = root.querySelector(".lb-compare-link");
  const src = root.getAttribute("data-src");
  let data = null;
  // keyed by text from run files (names, model ids): no prototype
  const [byKey, shards, models, byName, modelNames] = [0, 0, 0, 0, 0].map(() => Object.create(null));
  const MAX = 6, KEY = /^[0-9a-f]{12}$/;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  // the site's one rounding (render/fmt.py): half away from zero on the value's stated decimals (27.65 % -> 0.277)
  function fmt(x, digits) {
    if (x === null || x === undefined || !isFinite(Number(x))) return "–";
    const v = Number(x), m = Math.pow(10, digits);
    const r = Math.round(Number((Math.abs(v) * m).toPrecision(12))) / m;
    return (v < 0 && r > 0 ? "-" : "") + r.toFixed(digits);
  }
  const f3 = (x) => fmt(x, 3);
  const pct = (x) => (x === null || x === undefined ? "–" : fmt(100 * x, 0) + "%");
  function wanted() { return (new URLSearchParams(window.location.search).get("rows") || "").split(",").filter((k) => KEY.test(k)); }
  // the shards that hold these keys, each fetched once
  function load(keys) {
    return Promise.all(Array.from(new Set(keys.map((k) => k.slice(0, data.prefix)))).map((p) => {
      if (!shards[p]) shards[p] = fetch(src + "rows-" + p + ".json").then((r) => (r.ok ? r.json() : {})).then((rows) => {
        for (const [k, r] of Object.entries(rows)) if (k === r.key) byKey[k] = r;
      });
      return shards[p];
    }));
  }
  // a model's rows by readable name, fetched once
  function names(model) {
    const file = modelNames[model];
    if (!file) return Promise.resolve();
    if (!models[model]) models[model] = fetch(src + "models/" + file + ".json").then((r) => (r.ok ? r.json() : [])).then((xs) => {
      for (const [name, key] of xs) byName[name] = key;
    });
    return models[model];
  }
  function state() {
    const p = new URLSearchParams(window.location.search);
    const rows = (p.get("rows") || "").split(",").filter((k) => byKey[k]).slice(0, MAX);
    return { rows, a: p.get("a"), b: p.get("b"), task: p.get("task"), rsort: p.get("rsort") || "relation" };
  }
  function save(s) {
    const p = new URLSearchParams();
    if (s.rows.length) p.set("rows", s.rows.join(","));
    if (s.a) p.set("a", s.a);
    if (s.b) p.set("b", s.b);
    if (s.task) p.set("task", s.task);
    if (s.rsort && s.rsort !== "relation") p.set("rsort", s.rsort);
    const q = p.toString();
    window.history.replaceState(null, "", window.location.pathname + (q ? "?" + q : ""));
    permalink.href = window.location.href;
  }
  function label(r) { return r.model + " · " + r.label; }
  function badges(r) {
    const s = el("span", {});
    if (r.baseline) s.append(el("span", { class: "lb-badge lb-baseline" }, "baseline"), " ");
    if (r.source !== "reproduced") s.append(el("span", { class: "lb-badge lb-" + r.source }, r.source), " ");
    if (r.toy) s.append(el("span", { class: "lb-badge lb-toy" }, "toy"));
    return s;
  }
  function valueCell(v, lo, hi, approx) {
    const td = el("td", { class: "lb-num" }, f3(v));
    if (lo !== null && lo !== undefined) td.append(el("span", { class: "lb-ci" }, (approx ? "≈" : "") + f3(lo) + "–" + f3(hi)));
    return td;
  }

  function render() {
    const s = state();
    save(s);
    out.replaceChildren();
    if (s.rows.length === 0) {
      const ex = data.example;
      out.append(el("p", { class: "lb-compare-empty" }, "No rows picked yet. ",
        ex ? el("a", { href: "?rows=" + ex.join(","), class: "lb-compare-example" }, "Example: a baseline and its compressions") : ""));
      return;
    }
    const rows = s.rows.map((k) => byKey[k]);
    if (rows.length < 2) out.append(el("p", {}, "Pick at least one more row to compare."));
    // 1. side by side
    const tasks = data.tasks.filter((t) => rows.some((r) => r.tasks[t]));
    const head = el("tr", {}, el("th", { scope: "col" }, ""));
    rows.forEach((r) => {
      const rm = el("button", { type: "button", class: "lb-remove", "aria-label": "remove " + label(r) }, "remove");
      rm.addEventListener("click", () => { const st = state(); st.rows = st.rows.filter((k) => k !== r.key); save(st); render(); });
      head.append(el("th", { scope: "col" }, el("a", { href: "runs/" + Object.values(r.tasks)[0].run + ".html" }, label(r)), " ", badges(r), " ", rm));
    });
    const body = el("tbody", {});
    const line = (name, cells) => body.append(el("tr", {}, el("th", { scope: "row" }, name), ...cells));
    line("family", rows.map((r) => el("td", {}, r.family)));
    line("method", rows.map((r) => el("td", {}, r.method)));
    line("sparsity (all Linear · scope)", rows.map((r) => el("td", { class: "lb-num" }, (r.whole === null && r.whole_nominal !== null && r.whole_nominal !== undefined ? pct(r.whole_nominal) + " nominal" : pct(r.whole)) + (r.sparsity !== null && r.scope && r.scope !== "all" ? " · " + pct(r.sparsity) + " " + r.scope : ""))));
    line("bits per weight", rows.map((r) => el("td", { class: "lb-num" }, (r.bits === null && r.bits_nominal !== null && r.bits_nominal !== undefined ? fmt(r.bits_nominal, 0) + " nominal" : fmt(r.bits, 1)))));
    line("size (MB)", rows.map((r) => el("td", { class: "lb-num" }, fmt(r.size, 1))));
    for (const t of tasks) {
      const name = data.task_names[t] || t;
      line(data.metrics[t] + " " + name + " (95%)", rows.map((r) => { const x = r.tasks[t]; return x ? valueCell(x.value, x.lo, x.hi) : el("td", { class: "lb-none" }, "–"); }));
      line("kept " + name + " (95%)", rows.map((r) => {
        const x = r.tasks[t];
        if (!x) return el("td", { class: "lb-none" }, "–");
        if (r.baseline) return el("td", { class: "lb-num lb-base" }, "baseline");
        const td = valueCell(x.kept, x.klo, x.khi, !x.paired);
        if (x.verdict === "tied") td.append(el("span", { class: "lb-tie" }, "tied"));
        if (x.norm !== null && x.norm !== undefined) td.append(el("span", { class: "lb-ci" }, "norm " + fmt(x.norm, 2)));
        return td;
      }));
    }
    out.append(el("h2", {}, "Side by side"),
      el("div", { class: "lb-table-wrap" }, el("table", { class: "lb-table lb-compare-table" }, el("thead", {}, head), body)));
    // 2. per relation
    const relTasks = tasks.filter((t) => rows.some((r) => r.tasks[t] && r.tasks[t].rel));
    if (relTasks.length) {
      const task = relTasks.includes(s.task) ? s.task : relTasks[0];
      const pickTask = el("select", { class: "lb-compare-task" }, ...relTasks.map((t) => el("option", { value: t, selected: t === task ? "selected" : null }, data.task_names[t] || t)));
      pickTask.addEventListener("change", () => { const st = state(); st.task = pickTask.value; save(st); render(); });
      const sortSel = el("select", { class: "lb-compare-rsort" },
        el("option", { value: "relation", selected: s.rsort === "relation" ? "selected" : null }, "relation"),
        el("option", { value: "drop", selected: s.rsort === "drop" ? "selected" : null }, "largest drop (last vs first row)"));
      sortSel.addEventListener("change", () => { const st = state(); st.rsort = sortSel.value; save(st); render(); });
      const rels = Array.from(new Set(rows.flatMap((r) => Object.keys((r.tasks[task] || {}).rel || {}))));
      const v = (r, rel) => { const x = (r.tasks[task] || {}).rel; return x && x[rel] ? x[rel][0] : null; };
      const first = rows[0], last = rows[rows.length - 1];
      const drop = (rel) => (v(last, rel) === null || v(first, rel) === null ? 0 : v(last, rel) - v(first, rel));
      rels.sort(s.rsort === "drop" ? (x, y) => drop(x) - drop(y) || (x < y ? -1 : 1) : (x, y) => (x < y ? -1 : x > y ? 1 : 0));
      const rb = el("tbody", {});
      for (const rel of rels) {
        const name = data.relations[rel] ? rel + " · " + data.relations[rel] : rel;
        const cells = rows.map((r, i) => {
          const x = v(r, rel);
          const td = el("td", { class: "lb-num" }, f3(x));
          if (i > 0 && x !== null && v(first, rel) !== null) {
            const d = x - v(first, rel);
            td.append(el("span", { class: "lb-ci " + (d < 0 ? "lb-diff-neg" : d > 0 ? "lb-diff-pos" : "") }, (d >= 0 ? "+" : "") + fmt(d, 3)));
          }
          return td;
        });
        rb.append(el("tr", {}, el("th", { scope: "row" }, name), ...cells));
      }
      out.append(el("h2", {}, "Per relation (P@1; below: difference from the first row)"),
        el("div", { class: "lb-filters" }, el("label", {}, "Task ", pickTask), el("label", {}, "Sort by ", sortSel)),
        el("div", { class: "lb-table-wrap" }, el("table", { class: "lb-table lb-compare-table" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "relation"), ...rows.map((r) => el("th", { scope: "col" }, label(r))))), rb)));
    }
    // 3. facts between two runs
    if (rows.length >= 2) facts(s, rows, tasks);
  }

  function bits(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return (i) => (out[i >> 3] >> (i & 7)) & 1;
  }

  async function facts(s, rows, tasks) {
    const a = rows.find((r) => r.key === s.a) || rows[0];
    const b = rows.find((r) => r.key === s.b && r.key !== a.key) || rows.find((r) => r.key !== a.key);
    const sec = el("section", {});
    out.append(sec);
    const choose = (cur, which) => {
      const sel = el("select", { class: "lb-compare-" + which }, ...rows.map((r) => el("option", { value: r.key, selected: r.key === cur.key ? "selected" : null }, label(r))));
      sel.addEventListener("change", () => { const st = state(); st[which] = sel.value; save(st); render(); });
      return sel;
    };
    sec.append(el("h2", {}, "Facts forgotten and newly right"),
      el("div", { class: "lb-filters" }, el("label", {}, "From ", choose(a, "a")), el("label", {}, "to ", choose(b, "b"))));
    const task = tasks.find((t) => a.tasks[t] && b.tasks[t] && (s.task ? t === s.task || !b.tasks[s.task] : true)) || null;
    if (!task) { sec.append(el("p", {}, "These two rows share no task.")); return; }
    const base = document.querySelector("#lb-compare").getAttribute("data-facts");
    try {
      const [fa, fb] = await Promise.all([a, b].map((r) => fetch(base + r.tasks[task].run + ".json").then((x) => (x.ok ? x.json() : null))));
      if (!fa || !fb || !fa[task] || !fb[task]) {
        sec.append(el("p", {}, "No per-fact outcomes for " + task + " in both run files (reported, lm-eval and synthetic runs have none)."));
        return;
      }
      const ids = await fetch(base + fa[task].ids).then((x) => x.json());
      const sa = bits(fa[task].scored), ra = bits(fa[task].right), sb = bits(fb[task].scored), rb = bits(fb[task].right);
      let forgotten = [], learned = [], kept = 0, both = 0;
      for (let i = 0; i < ids.length; i++) {
        if (!sa(i) || !sb(i)) continue;
        both++;
        if (ra(i) && rb(i)) kept++; else if (ra(i)) forgotten.push(ids[i]); else if (rb(i)) learned.push(ids[i]);
      }
      sec.append(el("p", { class: "lb-facts-summary" },
        `${data.task_names[task] || task}: of ${both.toLocaleString("en")} facts scored in both, ${forgotten.length.toLocaleString("en")} forgotten, ` +
        `${learned.length.toLocaleString("en")} newly right, ${kept.toLocaleString("en")} right in both.`));
      const list = (name, xs) => el("details", {}, el("summary", {}, name + " (" + xs.length + "; first 100 fact ids)"),
        el("p", { class: "lb-code" }, xs.slice(0, 100).join(" ")));
      sec.append(list("Forgotten", forgotten), list("Newly right", learned));
    } catch (err) {
      sec.append(el("p", {}, "The per-fact data could not be loaded (open the site through a web server, not a file:// URL)."));
    }
  }

  fetch(src + "index.json").then((r) => r.json()).then((d) => {
    data = d;
    // the picker first lists the models; naming one (or typing past it) lists its rows by readable name (model ·
    // compression, the source where it is not ours; a name two rows share gets a number, never the row's internal key)
    for (const [model, file] of d.models) modelNames[model] = file;
    const modelOptions = d.models.map(([model]) => el("option", { value: model }));
    options.replaceChildren(...modelOptions);
    const modelsOf = (text) => d.models.map(([m]) => m).filter((m) => text === m || text.startsWith(m + " · "));
    let shown = null;
    async function offer() {  // the rows of the model named in the box, below the models
      const text = add.value.trim(), ms = modelsOf(text);
      if (!ms.length) return;
      await Promise.all(ms.map(names));
      if (shown === ms.join("\n") || add.value.trim() !== text) return;
      shown = ms.join("\n");
      const rows = Object.keys(byName).filter((name) => ms.some((m) => name.startsWith(m + " · ")));
      options.replaceChildren(...rows.map((name) => el("option", { value: name })), ...modelOptions);
    }
    add.addEventListener("input", offer);
    add.addEventListener("change", async () => {
      const text = add.value.trim();
      await offer();
      const key = byName[text];
      if (!key) {
        if (modelNames[text]) add.value = text + " · ";  // a model: now pick one of its rows
        return;
      }
      await load([key]);
      if (!byKey[key]) return;
      const st = state();
      if (!st.rows.includes(key) && st.rows.length < MAX) st.rows.push(key);
      add.value = "";
      save(st); render();
    });
    root.querySelector(".lb-compare-clear").addEventListener("click", () => { save({ rows: [] }); render(); });
    return load(wanted()).then(render);
  }).catch(() => { out.replaceChildren(el("p", {}, "The comparison data could not be loaded (serve the site over HTTP).")); });
})();
