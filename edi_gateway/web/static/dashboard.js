// The dashboard's own small script: overview auto-refresh, select-all boxes, confirmations.
// Everything works without it; it only saves clicks.
(function () {
  "use strict";

  function refresh(panel) {
    var url = panel.getAttribute("data-refresh");
    var seconds = parseInt(panel.getAttribute("data-refresh-seconds"), 10) || 15;
    function tick() {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.redirected || r.status === 401) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html === null) { return; }
          panel.innerHTML = html;
          var stamp = document.getElementById("as-of");
          if (stamp) { stamp.textContent = new Date().toISOString().slice(0, 19).replace("T", " ") + " UTC"; }
          panel.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () { /* the next tick tries again */ });
    }
    window.setInterval(tick, seconds * 1000);
  }

  function selectAll(box) {
    var name = box.getAttribute("data-select-all");
    box.addEventListener("change", function () {
      var boxes = box.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = box.checked; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("overview-panel");
    if (panel) { refresh(panel); }
    var boxes = document.querySelectorAll("[data-select-all]");
    for (var i = 0; i < boxes.length; i++) { selectAll(boxes[i]); }
    var rows = document.querySelectorAll("tr[data-id]");
    for (var j = 0; j < rows.length; j++) {
      rows[j].addEventListener("click", function (ev) {
        if (ev.target.closest("a, input, button, label")) { return; }
        window.location.href = "/messages/" + this.getAttribute("data-id");
      });
    }
  });
})();
