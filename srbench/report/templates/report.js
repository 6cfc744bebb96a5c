/* srbench report: sortable tables and a row filter. Vanilla JS, no network, no eval. */
(function () {
  "use strict";
  function key(cell, numeric) {
    var raw = cell.getAttribute("data-sort");
    if (!numeric) { return (raw === null ? cell.textContent : raw).trim().toLowerCase(); }
    if (raw === null || raw === "") { return NaN; }
    return parseFloat(raw);
  }
  function compare(a, b, numeric, dir) {
    if (numeric) {
      var an = isNaN(a), bn = isNaN(b);
      if (an || bn) { return an === bn ? 0 : (an ? 1 : -1); } /* missing values last, either way */
      return a === b ? 0 : (a < b ? -dir : dir);
    }
    return dir * a.localeCompare(b, undefined, { numeric: true });
  }
  function makeSortable(table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, col) {
      th.setAttribute("tabindex", "0");
      th.setAttribute("aria-sort", "none");
      function sort() {
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        var numeric = th.getAttribute("data-type") === "number";
        Array.prototype.forEach.call(headers, function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
          return { row: r, key: key(r.cells[col], numeric), index: i };
        });
        rows.sort(function (a, b) { return compare(a.key, b.key, numeric, dir) || a.index - b.index; });
        rows.forEach(function (r) { body.appendChild(r.row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  }
  function makeFilter(input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (!table) { return; }
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        var text = r.textContent.toLowerCase();
        r.hidden = !words.every(function (w) { return text.indexOf(w) !== -1; });
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), makeFilter);
  document.documentElement.setAttribute("data-srbench-ready", "1");
})();
