(function () {
  "use strict";
  var table = document.getElementById("fleet");
  if (!table) return;
  var body = table.tBodies[0];
  var shown = document.getElementById("shown");
  var total = body.rows.length;
  function key(row, index, kind) {
    var cell = row.cells[index];
    var text = cell.getAttribute("data-key");
    if (text === null) text = cell.textContent.trim();
    return kind === "text" ? text.toLowerCase() : Number(text);
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
    var kind = th.getAttribute("data-sort");
    if (!kind) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var descending = th.getAttribute("aria-sort") === "ascending";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, index, kind), y = key(b, index, kind);
        var order = x < y ? -1 : x > y ? 1 : 0;
        if (order === 0) order = key(a, 0, "text") < key(b, 0, "text") ? -1 : 1;
        return descending ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  function count() {
    var visible = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      if (row.offsetParent !== null) visible += 1;
    });
    shown.textContent = "Showing " + visible + " of " + total + " clinic" + (total === 1 ? "" : "s") + ".";
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.type === "radio") count();
  });
})();
