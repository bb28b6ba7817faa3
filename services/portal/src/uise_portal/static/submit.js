/* Submitting a document (docs/portal.md, "Participants"):
   1. the person chooses the filled document; the browser reads it (FileReader) and keeps it;
   2. the portal runs validation's dry run on it (nothing is recorded) and shows the findings:
      errors block, each query needs a written explanation;
   3. NCALayer signs the very bytes that were checked (a detached CMS);
   4. document, signature and explanations go to the portal, which sends them to intake.
   Both uploads show their progress. The file and the explanations stay in this tab's
   sessionStorage, so switching the page's language keeps them (the check runs again). */
(function () {
  "use strict";
  var box = document.getElementById("submit");
  if (!box) { return; }
  var d = box.dataset;
  var input = document.getElementById("document");
  var fileName = document.getElementById("file-name");
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("submit-status");
  var error = document.getElementById("submit-error");
  var getIt = document.getElementById("get-ncalayer");
  var findings = document.getElementById("findings");
  var signBox = document.getElementById("sign-box");
  var signButton = document.getElementById("sign-button");
  var missing = document.getElementById("explain-missing");
  var storeKey = "uise.submit:" + d.form + ":" + d.period;
  var doc = null;      // {name, type, bytes: Uint8Array, b64}
  var verdict = null;  // the portal's answer to the check
  var pending = null;  // {cms, key}: signed but not yet acknowledged (a retry resends these)
  var signLabel = signButton.textContent;

  function say(text) { status.textContent = text || ""; }
  function fail(text, offerDownload) {
    error.textContent = text || "";
    error.hidden = !text;
    getIt.hidden = !offerDownload;
  }
  function percentText(template, loaded, total) {
    return template.replace("{percent}", total ? String(Math.round(100 * loaded / total)) : "0");
  }

  function toBase64(bytes) {
    var out = "", chunk = 0x8000;
    for (var i = 0; i < bytes.length; i += chunk) {
      out += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
    }
    return window.btoa(out);
  }
  function fromBase64(text) {
    var raw = window.atob(text), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }
  function randomKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /* A multipart POST with the upload's progress in the <progress>; resolves {status, body}. */
  function upload(url, form, template) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      progress.hidden = false;
      progress.value = 0;
      say(percentText(template, 0, 1));
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) {
          progress.max = e.total;
          progress.value = e.loaded;
          say(percentText(template, e.loaded, e.total));
        }
      };
      xhr.onload = function () {
        progress.value = progress.max;
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        // the session ended meanwhile: a service's 401 is answered with the sign-in page
        if ((body && body.code === "SIGN_IN_REQUIRED") || (!body && /\/sign-in/.test(xhr.responseURL || ""))) {
          window.location.assign("/sign-in?reason=expired");
          return;
        }
        resolve({status: xhr.status, body: body || {}});
      };
      xhr.onerror = function () { reject({code: "NETWORK", message: d.msgNetwork}); };
      xhr.send(form);
    });
  }

  function remember() {
    if (!doc) { return; }
    try {
      window.sessionStorage.setItem(storeKey, JSON.stringify(
        {name: doc.name, type: doc.type, b64: doc.b64, explanations: explanations()}));
    } catch (e) { /* too large for this tab's storage: only a language switch loses it */ }
  }
  function forget() { try { window.sessionStorage.removeItem(storeKey); } catch (e) { /* none */ } }

  function textareas() { return findings.querySelectorAll("textarea[data-rule]"); }
  function explanations() {
    var out = {};
    Array.prototype.forEach.call(textareas(), function (area) { out[area.dataset.rule] = area.value; });
    return out;
  }
  function unexplained() {
    return Array.prototype.filter.call(textareas(), function (area) { return !area.value.trim(); }).length;
  }
  function update() {
    var ready = verdict && verdict.can_sign;
    signBox.hidden = !ready;
    var open = ready ? unexplained() : 0;
    missing.hidden = open === 0;
    signButton.disabled = !ready || open > 0;
    signButton.textContent = pending ? d.msgResend : signLabel;
  }

  function check(saved) {
    verdict = null;
    pending = null;
    findings.innerHTML = "";
    fail("");
    update();
    var form = new FormData();
    form.append("document", new Blob([doc.bytes], {type: doc.type || "application/octet-stream"}), doc.name);
    return upload(d.checkUrl, form, d.msgChecking).then(function (answer) {
      progress.hidden = true;
      if (answer.status !== 200) { say(""); fail(answer.body.message || answer.body.code || String(answer.status)); return; }
      verdict = answer.body;
      findings.innerHTML = verdict.html;
      Array.prototype.forEach.call(textareas(), function (area) {
        if (saved && saved[area.dataset.rule]) { area.value = saved[area.dataset.rule]; }
      });
      say(d.msgChecked);
      update();
      remember();
    }, function (e) { progress.hidden = true; say(""); fail(e.message); });
  }

  function use(name, type, bytes, saved) {
    doc = {name: name, type: type, bytes: bytes, b64: toBase64(bytes)};
    fileName.textContent = name;
    fileName.hidden = false;
    remember();
    return check(saved);
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) { return; }
    var reader = new FileReader();
    reader.onload = function () { use(file.name, file.type, new Uint8Array(reader.result), null); };
    reader.onerror = function () { fail(d.msgReadError); };
    reader.readAsArrayBuffer(file);
  });

  findings.addEventListener("input", function () { pending = null; update(); remember(); });

  function send(cms, key) {
    var form = new FormData();
    form.append("document", new Blob([doc.bytes], {type: doc.type || "application/octet-stream"}), doc.name);
    form.append("signature", cms);
    form.append("idempotency_key", key);
    form.append("explanations", JSON.stringify(explanations()));
    return upload(d.submitUrl, form, d.msgSending).then(function (answer) {
      if ((answer.status === 202 || answer.status === 200) && answer.body.redirect) {
        pending = null;
        forget();
        say(d.msgSent);
        window.location.assign(answer.body.redirect);
        return;
      }
      progress.hidden = true;
      say("");
      // refused: a new signature is needed for whatever the person changes next
      if (answer.status < 500 && answer.status !== 429 && answer.status !== 408) { pending = null; }
      fail(answer.body.message || answer.body.code || String(answer.status));
      signButton.disabled = false;
      update();
    });
  }

  signButton.addEventListener("click", function () {
    if (!doc || !verdict || !verdict.can_sign || unexplained() > 0) { update(); return; }
    fail("");
    signButton.disabled = true;
    var signed = pending ? Promise.resolve(pending) : (function () {
      say(d.msgSigning);
      return window.NCALayer.sign(d.ncalayerUrl, doc.b64, {attached: false, locale: d.lang}).then(function (cms) {
        pending = {cms: cms, key: randomKey()};
        return pending;
      });
    })();
    signed.then(function (p) { return send(p.cms, p.key); }).catch(function (e) {
      progress.hidden = true;
      say("");
      signButton.disabled = false;
      update();
      if (e && e.code === "NCALAYER_UNAVAILABLE") { fail(d.msgNoNcalayer, true); return; }
      if (e && e.code === "SIGNING_CANCELLED") { fail(d.msgCancelled, false); return; }
      fail((e && e.message) || String(e), false);
    });
  });

  // back in this tab (a language switch): the same file, checked again in the new language
  var saved = null;
  try { saved = JSON.parse(window.sessionStorage.getItem(storeKey) || "null"); } catch (e) { saved = null; }
  if (saved && saved.b64) { use(saved.name, saved.type, fromBase64(saved.b64), saved.explanations); }
  update();
})();
