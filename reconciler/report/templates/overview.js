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
      var keyed = Array.prototype.map.call(body.rows, function (row) {
        return [key(row, index, kind), key(row, 0, "text"), row];
      });
      keyed.sort(function (a, b) {
        var order = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
        return descending ? -order : order;
      });
      var sorted = document.createDocumentFragment();
      keyed.forEach(function (item) { sorted.appendChild(item[2]); });
      body.appendChild(sorted);
    });
  });
  function picked(name) {
    var input = document.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }
  function count() {
    var status = picked("status"), emr = picked("emr"), visible = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      if ((!status || row.getAttribute("data-status") === status) &&
          (!emr || row.getAttribute("data-emr") === emr)) visible += 1;
    });
    shown.textContent = "Showing " + visible + " of " + total + " clinic" + (total === 1 ? "" : "s") + ".";
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.type === "radio") count();
  });
})();
