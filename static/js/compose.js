// Live character counters for IO's limits. JavaScript's String length counts UTF-16 code
// units, exactly as IO does (an emoji counts 2). Fields carry data-io-min and data-io-limit;
// the counter paragraph names its field with data-counter-for and carries its words, in the
// page's language, in data-counter-text ("{count} / {max} caratteri (minimo {min})").
// Numbers are grouped as the page's language writes them (10.000 in Italian, 10,000 in
// English), also with four digits (Intl leaves 3500 ungrouped in Italian by default).
(function () {
  "use strict";
  var lang = document.documentElement.lang || undefined;
  var numbers;
  try {
    numbers = new Intl.NumberFormat(lang, { useGrouping: "always" });
  } catch (error) {
    numbers = new Intl.NumberFormat(undefined, { useGrouping: "always" });
  }
  document.querySelectorAll("[data-counter-for]").forEach(function (counter) {
    var field = document.getElementById(counter.getAttribute("data-counter-for"));
    var text = counter.getAttribute("data-counter-text");
    if (!field || !text || !field.hasAttribute("data-io-limit")) { return; }
    var max = parseInt(field.getAttribute("data-io-limit"), 10);
    var min = parseInt(field.getAttribute("data-io-min") || "0", 10);
    var values = { max: numbers.format(max), min: numbers.format(min) };
    function update() {
      var n = field.value.length;
      values.count = numbers.format(n);
      counter.textContent = text.replace(/\{(count|max|min)\}/g, function (whole, name) {
        return values[name];
      });
      counter.classList.toggle("io-counter-over", n > max || n < min);
    }
    field.addEventListener("input", update);
    update();
  });
})();
