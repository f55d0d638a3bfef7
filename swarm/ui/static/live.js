// swarm ui: keep a page's live part current. The server pushes the part, already
// rendered and escaped, over Server-Sent Events whenever the store changes.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || !live.dataset.stream || !window.EventSource) return;
  const source = new EventSource(live.dataset.stream);
  source.addEventListener("refresh", function (event) {
    live.innerHTML = event.data;
    live.dataset.updated = String(Date.now());
    document.body.classList.remove("stale");
  });
  source.addEventListener("problem", function () {
    document.body.classList.add("stale");
  });
  source.onerror = function () {
    document.body.classList.add("stale");
  };
})();
