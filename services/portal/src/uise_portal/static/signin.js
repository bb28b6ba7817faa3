/* Sign-in: identity's challenge, signed by NCALayer (CMS with the text inside), posted back. */
(function () {
  "use strict";
  var box = document.getElementById("sign-in");
  var button = document.getElementById("sign-in-button");
  var status = document.getElementById("sign-in-status");
  var error = document.getElementById("sign-in-error");
  var getIt = document.getElementById("get-ncalayer");

  function show(text) { status.textContent = text || ""; }
  function fail(text, offerDownload) {
    show("");
    error.textContent = text;
    error.hidden = false;
    getIt.hidden = !offerDownload;
    button.disabled = false;
  }
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "Accept": "application/json"},
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (r) { return r.json().then(function (j) { j._status = r.status; return j; }); });
  }

  button.addEventListener("click", function () {
    error.hidden = true;
    getIt.hidden = true;
    button.disabled = true;
    show(box.dataset.msgWorking);
    post("/sign-in/challenge").then(function (challenge) {
      if (challenge._status !== 200) { throw {message: challenge.message || challenge.code}; }
      return window.NCALayer.sign(box.dataset.ncalayerUrl, challenge.data,
                                  {attached: true, locale: box.dataset.lang}).then(function (cms) {
        show(box.dataset.msgChecking);
        return post("/sign-in", {challenge_id: challenge.challenge_id, signature: cms});
      });
    }).then(function (answer) {
      if (answer._status === 200 && answer.redirect) { window.location.assign(answer.redirect); return; }
      fail(answer.message || answer.code, false);
    }).catch(function (e) {
      if (e && e.code === "NCALAYER_UNAVAILABLE") { fail(box.dataset.msgNoNcalayer, true); return; }
      if (e && e.code === "SIGNING_CANCELLED") { fail(box.dataset.msgCancelled, false); return; }
      fail((e && e.message) || String(e), false);
    });
  });
})();
