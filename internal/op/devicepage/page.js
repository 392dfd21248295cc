"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  // The token rides in the fragment so that it never reaches a server log or a Referer;
  // it leaves the address bar and the history at once.
  var match = /^#t=([A-Za-z0-9_-]{43,})$/.exec(location.hash);
  history.replaceState(null, "", location.pathname);
  var token = match ? match[1] : "";
  var expiryTimer = 0;
  // kind is what the request authorises: "access" (account information), or a payment's
  // or funds confirmation's kind; a payment is paid from exactly one account.
  var kind = "access";

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

  // The approval and denial of a payment or a funds check say so.
  var paymentEndings = {
    "domestic-payment": {
      approved: ["Payment approved", "You can return to the app that asked for the payment."],
      denied: ["Payment denied", "Nothing will be paid. You can close this page."]
    },
    "funds-confirmation": {
      approved: ["Funds check approved", "You can return to the app that asked for it."],
      denied: ["Funds check denied", "Nothing was shared. You can close this page."]
    }
  };

  function end(state) {
    clearInterval(expiryTimer);
    var words = (paymentEndings[kind] || {})[state] || endings[state];
    $("loading").hidden = true;
    $("request").hidden = true;
    $("message-title").textContent = words[0];
    $("message-text").textContent = words[1];
    $("message").hidden = false;
    $("message").setAttribute("data-state", state);
    $("dashboard").hidden = state !== "approved" && state !== "denied";
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

  // canApprove: an account is picked (exactly one for a payment or funds check), and the
  // consent does not name an account the user does not hold.
  function canApprove() {
    var n = picked().length;
    return kind === "access" ? n > 0 : n === 1 && $("not-held").hidden;
  }

  // renderPayment shows what is paid, to whom and from where, or which account a funds
  // check reads; every value is text.
  function renderPayment(pay) {
    kind = pay.kind;
    var funds = kind === "funds-confirmation";
    document.title = funds ? "Approve a funds check" : "Approve a payment";
    $("eyebrow").textContent = funds ? "Funds check request" : "Payment request";
    $("ask").textContent = funds ? "wants to check that your account has the money for a payment" : "wants to make a payment from your account";
    $("accounts-legend").textContent = funds ? "The account they will check" : "Choose the account to pay from";
    $("access").hidden = true;
    var rows = funds ? [["debtor", "Account", pay.debtor_account], ["until", "Until", pay.until]] : [
      ["pay-amount", "Pay", pay.amount + " " + pay.currency],
      ["payee", "To", pay.payee_name + (pay.payee_account ? " · " + pay.payee_account : "")],
      ["reference", "Reference", pay.reference],
      ["debtor", "From", pay.debtor_account]
    ];
    rows.forEach(function (row) {
      if (!row[2]) { return; }
      $("payment").appendChild(text("dt", row[1]));
      var dd = text("dd", row[2]);
      dd.id = row[0];
      $("payment").appendChild(dd);
    });
    $("payment").hidden = false;
    if (pay.debtor_not_held) {
      $("not-held").textContent = (funds ? "The account to check, " : "This payment is set to be made from ") +
        (pay.debtor_account || "an account") + (funds ? ", is" : ", which is") + " not one of your accounts. You can only deny it.";
      $("not-held").hidden = false;
      $("choose").hidden = true;
    }
  }

  function render(view) {
    $("client").textContent = view.client_name;
    Array.prototype.forEach.call(document.querySelectorAll(".client-name"), function (el) { el.textContent = view.client_name; });
    if (view.binding_message) {
      $("binding-message").textContent = view.binding_message;
      $("binding").hidden = false;
    }
    view.permissions.forEach(function (p) { $("permissions").appendChild(text("li", p.text)); });
    if (view.payment) { renderPayment(view.payment); }
    if (view.transaction_window) { $("window").textContent = view.transaction_window; $("window").hidden = false; }
    if (view.access_lasts && kind !== "domestic-payment") {
      $("consent-expiry").textContent = "Access lasts " + view.access_lasts + ".";
      $("consent-expiry").hidden = false;
    }
    view.accounts.forEach(function (a, i) {
      var label = document.createElement("label");
      label.className = "account";
      var box = document.createElement("input");
      box.type = kind === "access" ? "checkbox" : "radio";
      box.name = "account";
      box.value = a.id;
      box.id = "account-" + i;
      // The one account a consent fixes is already chosen.
      box.checked = kind !== "access" && view.accounts.length === 1;
      box.addEventListener("change", function () { $("approve").disabled = !canApprove(); });
      var words = document.createElement("span");
      words.appendChild(text("strong", a.name || a.id));
      if (a.masked) { words.appendChild(text("small", a.masked, "masked")); }
      if (a.detail) { words.appendChild(text("small", a.detail)); }
      label.appendChild(box);
      label.appendChild(words);
      $("accounts").appendChild(label);
    });
    $("approve").disabled = !canApprove();
    $("password-row").hidden = !view.password_required || !$("not-held").hidden;
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
          $("approve").disabled = e.error === "password_locked" || !canApprove();
          $("deny").disabled = false;
          return;
        }
        if (e.error === "invalid_request" || e.error === "account_not_held") {
          fail(e.error_description || "Check your choice.");
          $("approve").disabled = e.error === "account_not_held" || !canApprove();
          $("deny").disabled = false;
          return;
        }
        end(endFor(r.status, e.error));
      });
    }, function () {
      fail("The bank could not be reached. Check your connection and try again.");
      $("approve").disabled = !canApprove();
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
