/* Long work (a report built on demand): the form is posted in the background while the page shows
   progress, then the page goes where the answer says. Without JavaScript the form posts as usual. */
(function () {
  "use strict";
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    var progress = form.querySelector("progress");
    var status = form.querySelector("[role=status]");
    var error = form.querySelector("[role=alert]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      error.hidden = true;
      progress.hidden = false;
      status.textContent = form.dataset.msgWorking;
      fetch(form.action, {method: "POST", credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json().then(function (j) { j._status = r.status; return j; }); })
        .then(function (answer) {
          if (answer.redirect) { window.location.assign(answer.redirect); return; }
          throw {message: answer.message || answer.code};
        })
        .catch(function (e) {
          progress.hidden = true;
          status.textContent = "";
          error.textContent = (e && e.message) || String(e);
          error.hidden = false;
          button.disabled = false;
        });
    });
  });
})();
