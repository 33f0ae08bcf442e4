/* Countdown for dynamic health-card QR codes: <span class="countdown" data-valid-until="ISO">. */
(function () {
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var nodes = document.querySelectorAll(".countdown[data-valid-until]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var left = Math.floor((Date.parse(el.getAttribute("data-valid-until")) - Date.now()) / 1000);
      if (isNaN(left)) { continue; }
      if (left <= 0) {
        el.textContent = "已过期，请重新生成";
        el.className = "countdown expired";
      } else {
        el.textContent = "剩余 " + Math.floor(left / 60) + ":" + pad(left % 60);
      }
    }
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
})();
