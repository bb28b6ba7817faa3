/* Sign the node's consolidated document with NCALayer and submit it up (docs/portal.md): the
   exact bytes of the JSON document are fetched from the portal, NCALayer makes a detached CMS over
   them, the portal submits document and signature to intake; the page then follows the
   submission through the signature check, validation and routing. */
(function () {
  "use strict";
  var box = document.getElementById("sign-box");
  var own = document.getElementById("own-submission");

  function poll(url, done) {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.final) { done(s); return; }
        setTimeout(function () { poll(url, done); }, 1500);
      })
      .catch(function () { setTimeout(function () { poll(url, done); }, 3000); });
  }

  if (own && own.dataset.final === "false") {
    poll(own.dataset.statusUrl, function () { window.location.reload(); });
  }
  if (!box) { return; }

  var button = document.getElementById("sign-submit");
  var status = document.getElementById("sign-status");
  var error = document.getElementById("sign-error");
  var progress = document.getElementById("sign-progress");

  function show(text) { status.textContent = text || ""; }
  function fail(text) {
    show("");
    progress.hidden = true;
    error.textContent = text;
    error.hidden = false;
    button.disabled = false;
  }
  function toBase64(buffer) {
    var bytes = new Uint8Array(buffer), chunks = [], step = 0x8000;
    for (var i = 0; i < bytes.length; i += step) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + step)));
    }
    return btoa(chunks.join(""));
  }

  button.addEventListener("click", function () {
    error.hidden = true;
    button.disabled = true;
    progress.hidden = false;
    show(box.dataset.msgFetching);
    fetch(box.dataset.documentUrl, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { throw {message: box.dataset.msgFetching + " " + r.status}; }
      return r.arrayBuffer();
    }).then(function (bytes) {
      show(box.dataset.msgSigning);
      return window.NCALayer.sign(box.dataset.ncalayerUrl, toBase64(bytes), {attached: false, locale: box.dataset.lang});
    }).then(function (cms) {
      show(box.dataset.msgSending);
      return fetch("/consolidation/submit", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify({form_code: box.dataset.formCode, period: box.dataset.period,
                              version: parseInt(box.dataset.version, 10), signature: cms})
      }).then(function (r) { return r.json().then(function (j) { j._status = r.status; return j; }); });
    }).then(function (answer) {
      if (answer._status !== 202) { fail(answer.message || answer.code); return; }
      show(box.dataset.msgWaiting);
      poll(answer.status_url, function () { window.location.assign(answer.redirect); });
    }).catch(function (e) {
      if (e && e.code === "NCALAYER_UNAVAILABLE") { fail(box.dataset.msgNoNcalayer); return; }
      if (e && e.code === "SIGNING_CANCELLED") { fail(box.dataset.msgCancelled); return; }
      fail((e && e.message) || String(e));
    });
  });
})();
