/* Dashboard charts (Chart.js, served by the portal): data from the json_script
   "dashboard-charts"; every chart has its data table in a <details> next to it. */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  // Numbers as the page's language writes them: 3.500 in Italian, 3,500 in English; Intl
  // leaves four digits ungrouped in Italian unless asked to group always.
  var lang = document.documentElement.lang || undefined;
  var numbers;
  try {
    numbers = new Intl.NumberFormat(lang, { useGrouping: "always", maximumFractionDigits: 1 });
  } catch (error) {
    numbers = new Intl.NumberFormat(undefined, { useGrouping: "always", maximumFractionDigits: 1 });
  }
  function number(value) { return numbers.format(value); }
  // The colours of the outcome bars on the supervision pages (static/css/sending.css).
  var colours = {
    delivered: "#008055",
    marked_sent: "#3d8fa6",
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
        locale: lang,
        maintainAspectRatio: false,
        animation: reduced ? false : undefined,
        plugins: {
          tooltip: {
            callbacks: {
              label: function (context) { return context.dataset.label + ": " + number(context.parsed.y); }
            }
          }
        },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0, callback: number } }
        }
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
        locale: lang,
        maintainAspectRatio: false,
        animation: reduced ? false : undefined,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (context) { return number(context.parsed.x) + "%"; }
            }
          }
        },
        scales: {
          x: {
            min: 0,
            max: 100,
            title: { display: true, text: data.rates.axis },
            ticks: { callback: function (value) { return number(value) + "%"; } }
          }
        }
      }
    });
    rates.setAttribute("data-rendered", "true");
  }
})();
