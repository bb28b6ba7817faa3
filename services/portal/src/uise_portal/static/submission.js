/* A submission still on its way (received, signature checked, validated): the page looks again
   every few seconds until a final state or a query that waits for the person. */
(function () {
  "use strict";
  var summary = document.getElementById("summary");
  if (summary && summary.dataset.refresh === "true") {
    window.setTimeout(function () { window.location.reload(); }, 4000);
  }
})();
