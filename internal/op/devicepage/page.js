"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  // The token rides in the fragment so that it never reaches a server log or a Referer;
  // it leaves the address bar and the history at once.
  var match = /^#t=([A-Za-z0-9_-]{43,})$/.exec(location.hash);
  history.replaceState(null, "", location.pathname);
  var token = match ? match[1] : "";
  var expiryTimer = 0;

  var endings = {
    unknown: ["This link is not valid", "Open the latest link the bank sent you. If the app that asked for access is still waiting, start again there."],
    used: ["This request was already answered", "Each link works once. Nothing more is needed here."],
    withdrawn: ["This request was withdrawn", "The access it asked for was cancelled before you answered. Nothing was shared; nothing more is needed here."],
    expired: ["This request has expired", "It was not answered in time. Start again in the app that asked for access."],
    refused: ["This request cannot be approved", "Your bank refused it. Contact your bank if you did not expect this."],
    approved: ["Access approved", "You can return to the app that asked for access."],
    denied: ["Access denied", "Nothing was shared. You can close this page."],
    failed: ["Something went wrong", "Try again in a moment."]
  };

  function end(kind) {
    clearInterval(expiryTimer);
    $("loading").hidden = true;
    $("request").hidden = true;
    $("message-title").textContent = endings[kind][0];
    $("message-text").textContent = endings[kind][1];
    $("message").hidden = false;
    $("message").setAttribute("data-state", kind);
    $("dashboard").hidden = kind !== "approved" && kind !== "denied";
  }

  function endFor(status, code) {
    if (code === "request_withdrawn") { return "withdrawn"; }
    switch (status) {
      case 401: return "unknown";
      case 409: return "used";
      case 410: return "expired";
      case 403: return "refused";
    }
    return "failed";
  }

  function call(method, body) {
    var init = { method: method, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
      headers: { "Authorization": "Bearer " + token, "Accept": "application/json" } };
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(location.pathname, init);
  }

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function picked() {
    return Array.prototype.map.call(document.querySelectorAll("#accounts input:checked"), function (el) { return el.value; });
  }

  function render(view) {
    $("client").textContent = view.client_name;
    Array.prototype.forEach.call(document.querySelectorAll(".client-name"), function (el) { el.textContent = view.client_name; });
    if (view.binding_message) {
      $("binding-message").textContent = view.binding_message;
      $("binding").hidden = false;
    }
    view.permissions.forEach(function (p) { $("permissions").appendChild(text("li", p.text)); });
    if (view.transaction_window) { $("window").textContent = view.transaction_window; $("window").hidden = false; }
    if (view.access_lasts) {
      $("consent-expiry").textContent = "Access lasts " + view.access_lasts + ".";
      $("consent-expiry").hidden = false;
    }
    view.accounts.forEach(function (a, i) {
      var label = document.createElement("label");
      label.className = "account";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.value = a.id;
      box.id = "account-" + i;
      box.addEventListener("change", function () { $("approve").disabled = picked().length === 0; });
      var words = document.createElement("span");
      words.appendChild(text("strong", a.name || a.id));
      if (a.masked) { words.appendChild(text("small", a.masked, "masked")); }
      if (a.detail) { words.appendChild(text("small", a.detail)); }
      label.appendChild(box);
      label.appendChild(words);
      $("accounts").appendChild(label);
    });
    $("password-row").hidden = !view.password_required;
    var expires = new Date(view.expires_at);
    var tick = function () {
      var left = Math.round((expires - Date.now()) / 1000);
      if (left <= 0) { end("expired"); return; }
      $("expiry").textContent = "This request expires in " + (left >= 60 ? Math.floor(left / 60) + " min " : "") + (left % 60) + " s.";
    };
    tick();
    expiryTimer = setInterval(tick, 1000);
    $("loading").hidden = true;
    $("request").hidden = false;
  }

  function fail(message) {
    $("error").textContent = message;
    $("error").hidden = false;
  }

  function decide(decision) {
    var body = { decision: decision };
    if (decision === "approve") {
      body.accounts = picked();
      if (!$("password-row").hidden) {
        body.password = $("password").value;
        if (!body.password) { fail("Type your password to approve."); return; }
      }
    }
    $("approve").disabled = $("deny").disabled = true;
    call("POST", body).then(function (r) {
      if (r.status === 204) { end(decision === "approve" ? "approved" : "denied"); return; }
      return r.json().catch(function () { return {}; }).then(function (e) {
        if (e.error === "wrong_password" || e.error === "password_locked" || e.error === "password_required") {
          fail(e.error_description || "Wrong password.");
          $("password").value = "";
          $("password").focus();
          $("approve").disabled = e.error === "password_locked" || picked().length === 0;
          $("deny").disabled = false;
          return;
        }
        if (e.error === "invalid_request") {
          fail(e.error_description || "Check your choice.");
          $("approve").disabled = picked().length === 0;
          $("deny").disabled = false;
          return;
        }
        end(endFor(r.status, e.error));
      });
    }, function () {
      fail("The bank could not be reached. Check your connection and try again.");
      $("approve").disabled = picked().length === 0;
      $("deny").disabled = false;
    });
  }

  $("request").addEventListener("submit", function (ev) { ev.preventDefault(); decide("approve"); });
  $("deny").addEventListener("click", function () { decide("deny"); });

  if (!token) { end("unknown"); return; }
  call("GET").then(function (r) {
    if (!r.ok) {
      return r.json().catch(function () { return {}; }).then(function (e) { end(endFor(r.status, e.error)); });
    }
    return r.json().then(render);
  }, function () { end("failed"); });
})();
