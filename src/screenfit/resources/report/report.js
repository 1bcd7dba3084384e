// screenfit report: sortable, searchable tables rendered from the JSON embedded in the page.
// No network, no libraries: every table is a <div class="sf-table" data-source="ID"> whose rows
// are the JSON array in <script type="application/json" id="ID">.
(function () {
  "use strict";
  var MAX_ROWS = 500;

  function format(value) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value === "number") {
      if (Number.isInteger(value)) { return String(value); }
      var a = Math.abs(value);
      return (a !== 0 && (a < 0.001 || a >= 1e5)) ? value.toExponential(2) : value.toFixed(3);
    }
    return String(value);
  }

  function render(container) {
    var source = document.getElementById(container.getAttribute("data-source"));
    var payload = JSON.parse(source.textContent);
    var columns = payload.columns, rows = payload.rows;
    var textColumns = columns.map(function (c, i) {
      return rows.some(function (r) { return typeof r[i] === "string"; });
    });
    var state = { sortBy: -1, descending: false, query: "" };

    var controls = document.createElement("div");
    controls.className = "sf-controls";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = container.getAttribute("data-placeholder") || "search genes…";
    input.className = "sf-search";
    if (container.hasAttribute("data-search-id")) { input.id = container.getAttribute("data-search-id"); }
    var count = document.createElement("span");
    count.className = "sf-count";
    controls.appendChild(input);
    controls.appendChild(count);

    var wrap = document.createElement("div");
    wrap.className = "sf-table-wrap";
    var table = document.createElement("table");
    table.className = "sf-table";
    var thead = document.createElement("thead");
    var headRow = document.createElement("tr");
    columns.forEach(function (name, i) {
      var th = document.createElement("th");
      th.textContent = name;
      if (textColumns[i]) { th.className = "text"; }
      th.addEventListener("click", function () {
        state.descending = state.sortBy === i ? !state.descending : false;
        state.sortBy = i;
        draw();
      });
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);
    var tbody = document.createElement("tbody");
    table.appendChild(thead);
    table.appendChild(tbody);
    wrap.appendChild(table);
    container.appendChild(controls);
    container.appendChild(wrap);

    function matches(row) {
      if (!state.query) { return true; }
      for (var i = 0; i < row.length; i++) {
        if (textColumns[i] && row[i] !== null && String(row[i]).toLowerCase().indexOf(state.query) !== -1) {
          return true;
        }
      }
      return false;
    }

    function draw() {
      var shown = rows.filter(matches);
      if (state.sortBy >= 0) {
        var k = state.sortBy, sign = state.descending ? -1 : 1;
        shown.sort(function (a, b) {
          var x = a[k], y = b[k];
          if (x === y) { return 0; }
          if (x === null) { return 1; }
          if (y === null) { return -1; }
          return (x < y ? -1 : 1) * sign;
        });
      }
      Array.prototype.forEach.call(headRow.children, function (th, i) {
        th.classList.toggle("sorted-asc", i === state.sortBy && !state.descending);
        th.classList.toggle("sorted-desc", i === state.sortBy && state.descending);
      });
      var fragment = document.createDocumentFragment();
      shown.slice(0, MAX_ROWS).forEach(function (row) {
        var tr = document.createElement("tr");
        row.forEach(function (value, i) {
          var td = document.createElement("td");
          td.textContent = format(value);
          if (textColumns[i]) { td.className = "text"; }
          tr.appendChild(td);
        });
        fragment.appendChild(tr);
      });
      tbody.replaceChildren(fragment);
      count.textContent = shown.length + " of " + rows.length + " rows" +
        (shown.length > MAX_ROWS ? " (first " + MAX_ROWS + " shown)" : "");
    }

    input.addEventListener("input", function () {
      state.query = input.value.trim().toLowerCase();
      draw();
    });
    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".sf-table"), function (el) {
      if (el.tagName === "DIV") { render(el); }
    });
  });
})();
