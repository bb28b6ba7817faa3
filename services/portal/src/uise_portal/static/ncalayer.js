/* A small client of NCALayer, the desktop signing app of Kazakhstan's NCA (our own code).
   NCALayer listens on a WebSocket on the person's machine (wss://127.0.0.1:13579) and answers
   JSON. The current module, kz.gov.pki.knca.basics, method "sign", answers
   {status: true, body: {result: [cms…]}}; an older NCALayer has only kz.gov.pki.knca.commonUtils,
   whose createCMSSignatureFromBase64 answers {code: "200", responseObject: cms}. */
(function () {
  "use strict";

  function NCALayerError(code, message) {
    this.code = code;
    this.message = message || code;
  }

  function open(url) {
    return new Promise(function (resolve, reject) {
      var ws;
      try { ws = new WebSocket(url); } catch (e) { reject(new NCALayerError("NCALAYER_UNAVAILABLE")); return; }
      var opened = false;
      ws.onopen = function () { opened = true; resolve(ws); };
      ws.onerror = function () { if (!opened) reject(new NCALayerError("NCALAYER_UNAVAILABLE")); };
      ws.onclose = function () { if (!opened) reject(new NCALayerError("NCALAYER_UNAVAILABLE")); };
    });
  }

  /* One request, one answer. NCALayer greets a new connection with its version first
     ({result: {version}}); that greeting is not the answer. */
  function ask(ws, request) {
    return new Promise(function (resolve, reject) {
      ws.onmessage = function (event) {
        var answer;
        try { answer = JSON.parse(event.data); } catch (e) { reject(new NCALayerError("NCALAYER_BAD_ANSWER")); return; }
        if (answer && answer.result && answer.result.version && !("status" in answer) && !("code" in answer)) {
          return;  // the greeting
        }
        resolve(answer);
      };
      ws.onclose = function () { reject(new NCALayerError("NCALAYER_CLOSED")); };
      ws.send(JSON.stringify(request));
    });
  }

  function basicsRequest(base64Data, options) {
    return {
      module: "kz.gov.pki.knca.basics",
      method: "sign",
      args: {
        allowedStorages: options.storages || null,
        format: "cms",
        data: base64Data,
        signingParams: {decode: true, encapsulate: !!options.attached, digested: false},
        signerParams: {extKeyUsageOids: options.extKeyUsageOids || [], chain: []},
        locale: options.locale || "ru"
      }
    };
  }

  function commonUtilsRequest(base64Data, options) {
    return {
      module: "kz.gov.pki.knca.commonUtils",
      method: "createCMSSignatureFromBase64",
      args: ["PKCS12", "SIGNATURE", base64Data, !!options.attached]
    };
  }

  function resultOf(answer) {
    if (answer && answer.status === true && answer.body) {
      var result = answer.body.result;
      return Array.isArray(result) ? result[0] : result;
    }
    if (answer && String(answer.code) === "200" && answer.responseObject) {
      return answer.responseObject;
    }
    return null;
  }

  function refusalOf(answer) {
    var code = answer && (answer.code || (answer.body && answer.body.code)) || "NCALAYER_REFUSED";
    var message = answer && (answer.message || (answer.body && answer.body.message)) || "";
    if (/cancel|canceled|cancelled|action\.canceled/i.test(String(code) + " " + message)) {
      return new NCALayerError("SIGNING_CANCELLED", message);
    }
    return new NCALayerError(String(code), message);
  }

  /* The CMS (base64) NCALayer made over base64Data: detached unless options.attached. */
  function sign(url, base64Data, options) {
    options = options || {};
    return open(url).then(function (ws) {
      return ask(ws, basicsRequest(base64Data, options)).then(function (answer) {
        var cms = resultOf(answer);
        if (cms) { return cms; }
        // An NCALayer without the basics module: its older commonUtils.
        if (answer && /module|not\s*found|unknown/i.test(JSON.stringify(answer)) && !answer.status) {
          return ask(ws, commonUtilsRequest(base64Data, options)).then(function (old) {
            var cms2 = resultOf(old);
            if (cms2) { return cms2; }
            throw refusalOf(old);
          });
        }
        throw refusalOf(answer);
      }).finally(function () { try { ws.close(); } catch (e) { /* closed */ } });
    });
  }

  window.NCALayer = {sign: sign, Error: NCALayerError};
})();
