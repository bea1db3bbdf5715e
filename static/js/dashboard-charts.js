/* Dashboard charts (Chart.js, served by the portal): data from the json_script
   "dashboard-charts"; every chart has its data table in a <details> next to it. */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  // The colours of the outcome bars on the supervision pages (static/css/sending.css).
  var colours = {
    delivered: "#008055",
    accepted: "#66b3a0",
    unreachable: "#5c6f82",
    failed: "#cc334d",
    uncertain: "#cc7a00",
    cancelled: "#a0a8b3",
    waiting: "#b3cce6"
  };
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var volume = document.getElementById("chart-volume");
  if (volume) {
    new window.Chart(volume, {
      type: "bar",
      data: {
        labels: data.volume.labels,
        datasets: data.volume.datasets.map(function (set) {
          return { label: set.label, data: set.data, backgroundColor: colours[set.key] };
        })
      },
      options: {
        maintainAspectRatio: false,
        animation: reduced ? false : undefined,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
    volume.setAttribute("data-rendered", "true");
  }
  var rates = document.getElementById("chart-rates");
  if (rates) {
    new window.Chart(rates, {
      type: "bar",
      data: {
        labels: data.rates.labels,
        datasets: [{ label: data.rates.label, data: data.rates.data, backgroundColor: "#0066cc" }]
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: reduced ? false : undefined,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (context) { return context.formattedValue + " %"; }
            }
          }
        },
        scales: {
          x: {
            min: 0,
            max: 100,
            title: { display: true, text: data.rates.axis },
            ticks: { callback: function (value) { return value + " %"; } }
          }
        }
      }
    });
    rates.setAttribute("data-rendered", "true");
  }
})();
