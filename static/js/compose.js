// Live character counters for IO's limits. JavaScript's String length counts UTF-16 code
// units, exactly as IO does (an emoji counts 2). Fields carry data-io-limit; the counter
// paragraph names its field with data-counter-for.
(function () {
  "use strict";
  var minimums = { 120: 10, 10000: 80 };
  document.querySelectorAll("[data-counter-for]").forEach(function (counter) {
    var field = document.getElementById(counter.getAttribute("data-counter-for"));
    if (!field || !field.hasAttribute("data-io-limit")) { return; }
    var max = parseInt(field.getAttribute("data-io-limit"), 10);
    var min = minimums[max] || 0;
    function update() {
      var n = field.value.length;
      counter.textContent = n + " / " + max + " caratteri (minimo " + min + ")";
      counter.classList.toggle("io-counter-over", n > max || n < min);
    }
    field.addEventListener("input", update);
    update();
  });
})();
