// Charts of the insights page, each drawn from the table that follows it (the table is the
// accessible version and holds exactly what the chart shows). Loaded as a file: the CSP allows
// no inline script.
(function () {
  "use strict";

  var PALETTE = ["#2457a6", "#c2571a", "#2f8f5b", "#8a3ea8", "#a8902e"];

  function readTable(table) {
    var headings = Array.prototype.map.call(table.tHead.rows[0].cells, function (cell) {
      return cell.textContent.trim();
    }).slice(1);
    var labels = [];
    var series = headings.map(function () { return []; });
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var cells = row.querySelectorAll("td[data-value]");
      if (!cells.length) { return; }
      labels.push(row.cells[0].textContent.trim());
      Array.prototype.forEach.call(cells, function (cell, index) {
        var value = cell.getAttribute("data-value");
        series[index].push(value === "" ? null : Number(value));
      });
    });
    return { labels: labels, headings: headings, series: series };
  }

  function draw(canvas) {
    var table = document.getElementById(canvas.getAttribute("data-chart-table"));
    if (!table || !window.Chart) { return; }
    var data = readTable(table);
    if (!data.labels.length) { canvas.parentNode.hidden = true; return; }
    var kind = canvas.getAttribute("data-chart");
    var stacked = kind === "stacked";
    new window.Chart(canvas, {
      type: kind === "line" ? "line" : "bar",
      data: {
        labels: data.labels,
        datasets: data.headings.map(function (heading, index) {
          var colour = PALETTE[index % PALETTE.length];
          return { label: heading, data: data.series[index], backgroundColor: colour, borderColor: colour, spanGaps: true };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, title: { display: true, text: canvas.getAttribute("data-unit") } }
        }
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
