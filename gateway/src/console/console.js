// The console's only script: conveniences a page works without (the server checks it all).
// - an NPI's check digit verified as it is typed (Luhn over "80840" + the first nine digits);
// - "Copy" for a key or password shown once;
// - a typed confirmation enables its button.
"use strict";
function npiValid(npi) {
  if (!/^\d{10}$/.test(npi)) return false;
  var digits = "80840" + npi.slice(0, 9), sum = 0;
  for (var i = 0; i < digits.length; i++) {
    var d = +digits[digits.length - 1 - i];
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === +npi[9];
}
document.addEventListener("DOMContentLoaded", function () {
  var npi = document.getElementById("npi"), out = document.getElementById("npi-check");
  if (npi && out) {
    npi.addEventListener("input", function () {
      var v = npi.value.trim();
      if (!v) { out.textContent = ""; npi.removeAttribute("aria-invalid"); return; }
      var ok = npiValid(v);
      out.textContent = ok ? "Check digit verified." : "Not a valid NPI: 10 digits with a correct check digit.";
      out.className = ok ? "note" : "field-error";
      npi.setAttribute("aria-invalid", ok ? "false" : "true");
    });
  }
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var t = document.getElementById(b.getAttribute("data-copy"));
      if (t && navigator.clipboard) navigator.clipboard.writeText(t.textContent.trim()).then(function () { b.textContent = "Copied"; });
    });
  });
  document.querySelectorAll("input[data-confirm]").forEach(function (i) {
    var button = document.getElementById(i.getAttribute("data-button"));
    if (!button) return;
    button.disabled = true;
    i.addEventListener("input", function () { button.disabled = i.value.trim() !== i.getAttribute("data-confirm"); });
  });
});
