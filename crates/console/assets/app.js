// The mailcert console: a few pages over the JSON API under /api/v1/.
// Every text that comes from the server is put in the page with
// document.createTextNode (through el()): nothing is ever parsed as HTML,
// so a subject or file name holding markup shows as text.
"use strict";

const state = { csrf: null, user: null };

// el("p", {class: "x"}, "text", child, …): a DOM element; strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function main() { return document.getElementById("main"); }

function show(title, ...content) {
  const m = main();
  m.replaceChildren(el("h1", { id: "page-title" }, title), ...content.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  document.title = title + " · mailcert console";
  m.focus();
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === (location.hash || "#/"));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
}

function say(kind, ...lines) {
  const box = document.getElementById("status");
  box.className = kind === "note" ? "note" : "";
  box.replaceChildren(...lines.filter(Boolean).map((l) => el("p", {}, l)));
  // A message said just before a page change stays for that page.
  state.sticky = box.childElementCount > 0;
}
function clearStatus() { say("note"); }

class ApiError extends Error {
  constructor(status, body) {
    super(body.error || "HTTP " + status);
    this.status = status;
    this.fix = body.fix || "";
  }
}

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (state.csrf) headers["X-CSRF-Token"] = state.csrf;
  }
  const response = await fetch("/api/v1/" + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok) {
    const data = type.startsWith("application/json") ? await response.json() : { error: "HTTP " + response.status };
    if (response.status === 401 && path !== "login") {
      state.csrf = null;
      showLogin(data.error);
    }
    throw new ApiError(response.status, data);
  }
  if (type.startsWith("application/json")) return response.json();
  if (type.startsWith("text/")) return response.text();
  return response.blob();
}

function failed(error) {
  if (error instanceof ApiError) {
    if (error.status === 401) return;
    say("error", error.message, error.fix ? "Fix: " + error.fix : null);
  } else {
    say("error", String(error));
  }
}

function messages(result) {
  const lines = result.messages || [];
  say("note", ...(lines.length ? lines : ["Done."]));
}

// ---- login ----------------------------------------------------------

function showLogin(reason) {
  document.getElementById("nav").hidden = true;
  const user = el("input", { type: "text", id: "login-user", name: "user", autocomplete: "username", required: true });
  const password = el("input", { type: "password", id: "login-password", name: "password", autocomplete: "current-password", required: true });
  const form = el("form", { id: "login-form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", "login", { user: user.value, password: password.value });
      state.csrf = answer.csrf_token;
      state.user = answer.user;
      document.getElementById("nav").hidden = false;
      clearStatus();
      if (!location.hash || location.hash === "#/login") location.hash = "#/";
      else route();
    } catch (error) { failed(error); password.value = ""; password.focus(); }
  } },
    el("label", { for: "login-user" }, "User"), user,
    el("label", { for: "login-password" }, "Password"), password,
    el("button", { class: "primary", type: "submit" }, "Log in"));
  show("Log in to the mailcert console", form);
  if (reason && reason !== "not logged in; this needs a console session") say("note", reason);
  user.focus();
}

// ---- certificate list ----------------------------------------------

function attention(cert) {
  if (cert.status === "PendingRequest") return "pending";
  if (cert.status !== "Valid") return "bad";
  if ((cert.warnings || []).length || (cert.days_left !== null && cert.days_left < 30)) return "warn";
  return "ok";
}

function badge(cert) {
  return el("span", { class: "badge " + attention(cert) }, cert.status);
}

async function listPage() {
  const certs = await api("GET", "certificates");
  const rows = certs.map((c) => el("tr", { class: attention(c) === "ok" ? null : attention(c), "data-thumbprint": c.thumbprint },
    el("td", { "data-label": "Certificate" },
      el("a", { href: "#/cert/" + c.thumbprint, class: "subject" }, c.subject),
      el("div", { class: "names" }, (c.names || []).join(", ")),
      el("div", { class: "thumb" }, c.thumbprint)),
    el("td", { "data-label": "Status" }, badge(c)),
    el("td", { "data-label": "Services", class: "services" }, c.services.length ? c.services.join(", ") : "—"),
    el("td", { "data-label": "Expires" }, c.not_after ? c.not_after.slice(0, 10) + " (" + c.days_left + " days)" : "—"),
    el("td", { "data-label": "Warnings" }, (c.warnings || []).length
      ? el("ul", { class: "warnings" }, c.warnings.map((w) => el("li", {}, w))) : "")));
  show("Certificates",
    el("div", { class: "legend" },
      el("span", { class: "badge ok" }, "Valid"), "in order",
      el("span", { class: "badge warn" }, "Valid"), "has warnings or expires within 30 days",
      el("span", { class: "badge bad" }, "Invalid"), "needs attention",
      el("span", { class: "badge pending" }, "PendingRequest"), "waits for the CA"),
    el("table", { class: "cards", id: "certificates" },
      el("thead", {}, el("tr", {}, ["Certificate", "Status", "Services", "Expires", "Warnings"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)),
    certs.length ? null : el("p", {}, "No certificates yet: make one with New."));
}

// ---- details and actions ---------------------------------------------

const SERVICES = ["imap", "pop", "smtp", "https"];

async function certPage(thumb) {
  const c = await api("GET", "certificates/" + encodeURIComponent(thumb));
  const pending = c.status === "PendingRequest";
  const fields = [
    ["Subject", c.subject], ["Names", (c.names || []).concat(c.ip_addresses || []).join(", ")],
    ["Status", badge(c)], ["Services", c.services.join(", ") || "—"],
    ["Issuer", c.issuer || "—"], ["Valid from", c.not_before || "—"], ["Valid to", c.not_after || "—"],
    ["Days left", c.days_left ?? "—"], ["Key", c.key_algorithm + (c.key_size ? " (" + c.key_size + " bits)" : "")],
    ["Exportable", c.exportable ? "yes" : "no"], ["Self-signed", c.is_self_signed ? "yes" : "no"],
    ["Origin", c.origin], ["Friendly name", c.friendly_name || "—"], ["Thumbprint", c.thumbprint],
    ["SHA-256", c.sha256 || "—"], ["Chain", (c.chain || []).join(" → ") || "—"],
  ];
  const details = el("dl", { id: "details" }, fields.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const warnings = (c.warnings || []).length
    ? el("section", { class: "panel" }, el("h2", {}, "Warnings"), el("ul", { class: "warnings" }, c.warnings.map((w) => el("li", {}, w))))
    : null;
  if (pending) {
    const pem = await api("GET", "certificates/" + c.thumbprint + "/pem");
    show("Pending request", details, warnings,
      el("h2", {}, "Request for the CA"), el("pre", { id: "csr" }, pem),
      el("p", {}, "Send it to the CA, then ", el("a", { href: "#/complete" }, "complete the request"), " with its answer."),
      removeForm(c));
    return;
  }
  show(c.subject, details, warnings, assignForm(c), renewForm(c), exportForm(c), removeForm(c));
}

function assignForm(c) {
  const boxes = SERVICES.map((s) => el("input", { type: "checkbox", id: "svc-" + s, value: s, checked: c.services.includes(s) }));
  const result = el("div", { id: "preflight", "aria-live": "polite" });
  const save = el("button", { class: "primary", type: "button", id: "save-services", disabled: true }, "Save");
  const chosen = () => boxes.filter((b) => b.checked).map((b) => b.value);
  const form = el("form", { id: "assign", onsubmit: (e) => e.preventDefault() },
    el("h2", {}, "Assign services"),
    el("fieldset", {}, el("legend", {}, "Services that use this certificate"),
      SERVICES.map((s, i) => el("label", { class: "inline", for: "svc-" + s }, boxes[i], s.toUpperCase()))),
    el("button", { class: "secondary", type: "button", id: "check-services", onclick: async () => {
      const added = chosen().filter((s) => !c.services.includes(s));
      result.replaceChildren();
      if (!added.length) { save.disabled = false; result.append(el("p", {}, "Nothing new to check.")); return; }
      try {
        const pre = await api("POST", "certificates/" + c.thumbprint + "/preflight", { services: added });
        if (pre.refused) result.append(el("p", { class: "sev-error" }, "Refused: " + pre.refused));
        result.append(pre.warnings.length
          ? el("ul", { class: "findings" }, pre.warnings.map((w) => el("li", {}, el("span", { class: "sev-warning" }, w.code), " ", w.message)))
          : el("p", {}, "Pre-flight: no warnings for " + added.join(", ") + "."));
        save.disabled = Boolean(pre.refused);
        if (!save.disabled) save.focus();
      } catch (error) { failed(error); }
    } }, "Check before saving"),
    save, result);
  save.addEventListener("click", async () => {
    const want = chosen();
    const add = want.filter((s) => !c.services.includes(s));
    const drop = c.services.filter((s) => !want.includes(s));
    try {
      const lines = [];
      if (add.length) lines.push(...(await api("POST", "certificates/" + c.thumbprint + "/enable", { services: add })).messages);
      if (drop.length) lines.push(...(await api("POST", "certificates/" + c.thumbprint + "/disable", { services: drop })).messages);
      say("note", ...(lines.length ? lines : ["Saved: " + (want.join(", ") || "no services")]));
      await certPage(c.thumbprint);
    } catch (error) { failed(error); }
  });
  boxes.forEach((b) => b.addEventListener("change", () => { save.disabled = true; result.replaceChildren(); }));
  return form;
}

function renewForm(c) {
  const reuse = el("input", { type: "checkbox", id: "reuse-key" });
  return el("form", { id: "renew", onsubmit: async (e) => {
    e.preventDefault();
    if (!confirm("Renew " + c.subject + "?")) return;
    try {
      const result = await api("POST", "certificates/" + c.thumbprint + "/renew", { reuse_key: reuse.checked });
      messages(result);
      location.hash = "#/cert/" + result.thumbprint;
    } catch (error) { failed(error); }
  } },
    el("h2", {}, "Renew"),
    el("p", {}, c.is_self_signed ? "A new self-signed certificate with the same names; its services move to it." : "A new request to the CA with the same names."),
    c.is_self_signed ? null : el("label", { class: "inline", for: "reuse-key" }, reuse, "Keep the current key"),
    el("button", { class: "secondary", type: "submit" }, "Renew"));
}

function exportForm(c) {
  if (!c.exportable) {
    return el("section", { class: "panel", id: "export" }, el("h2", {}, "Export PFX"),
      el("p", {}, c.has_private_key ? "The private key is marked non-exportable: it never leaves this store." : "The store has no private key for this certificate."));
  }
  const password = el("input", { type: "password", id: "export-password", autocomplete: "new-password" });
  const again = el("input", { type: "password", id: "export-password-again", autocomplete: "new-password" });
  const name = el("input", { type: "text", id: "export-name", value: (c.names[0] || "certificate").replace(/[^A-Za-z0-9-]+/g, "_") + ".pfx" });
  const legacy = el("input", { type: "checkbox", id: "export-legacy" });
  return el("form", { id: "export", onsubmit: async (e) => {
    e.preventDefault();
    if (password.value !== again.value) { say("error", "The two passwords differ.", "Fix: type the same password twice."); return; }
    try {
      const blob = await api("POST", "certificates/" + c.thumbprint + "/export", { password: password.value, legacy: legacy.checked, file_name: name.value });
      const url = URL.createObjectURL(blob);
      const link = el("a", { href: url, download: name.value });
      document.body.append(link); link.click(); link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      say("note", "Exported " + name.value + " with its private key and chain (recorded in the audit log).");
      password.value = ""; again.value = "";
    } catch (error) { failed(error); }
  } },
    el("h2", {}, "Export PFX"),
    el("label", { for: "export-password" }, "Password for the file"), password,
    el("label", { for: "export-password-again" }, "Password again"), again,
    el("label", { for: "export-name" }, "File name"), name,
    el("label", { class: "inline", for: "export-legacy" }, legacy, "Legacy form for Windows Server 2012 R2 and older"),
    el("button", { class: "primary", type: "submit" }, "Export"));
}

function removeForm(c) {
  const force = el("input", { type: "checkbox", id: "remove-force" });
  return el("form", { id: "remove", onsubmit: async (e) => {
    e.preventDefault();
    if (!confirm("Remove " + c.subject + "?")) return;
    try {
      messages(await api("POST", "certificates/" + c.thumbprint + "/remove", { force: force.checked }));
      location.hash = "#/";
    } catch (error) { failed(error); }
  } },
    el("h2", {}, c.status === "PendingRequest" ? "Cancel the request" : "Remove"),
    c.services.length ? el("label", { class: "inline", for: "remove-force" }, force, "Unbind it from its services first") : null,
    el("button", { class: "danger", type: "submit" }, c.status === "PendingRequest" ? "Cancel request" : "Remove"));
}

// ---- the new-certificate wizard --------------------------------------

function newPage() {
  const kind = el("select", { id: "new-kind" },
    el("option", { value: "self_signed" }, "Self-signed (for testing, or until the CA answers)"),
    el("option", { value: "request" }, "Request for a CA (commercial or private)"));
  const names = el("textarea", { id: "new-names", "aria-describedby": "names-help" });
  const key = el("select", { id: "new-key" }, ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"].map((k) => el("option", { value: k }, k)));
  const days = el("input", { type: "text", id: "new-days", inputmode: "numeric", value: "1825" });
  const friendly = el("input", { type: "text", id: "new-friendly" });
  const exportable = el("input", { type: "checkbox", id: "new-exportable", checked: true });
  const planText = el("textarea", { id: "plan-text", placeholder: "[organization]\naccepted_domains = [\"contoso.com\"]\n…" });
  const planFile = el("input", { type: "file", id: "plan-file", accept: ".toml,text/plain" });
  const findings = el("div", { id: "plan-findings", "aria-live": "polite" });
  const daysRow = el("div", {}, el("label", { for: "new-days" }, "Days valid"), days);
  kind.addEventListener("change", () => { daysRow.hidden = kind.value !== "self_signed"; });
  planFile.addEventListener("change", async () => { if (planFile.files[0]) planText.value = await planFile.files[0].text(); });
  const suggest = el("button", { class: "secondary", type: "button", id: "plan-suggest", onclick: async () => {
    findings.replaceChildren();
    try {
      const plan = await api("POST", "plan", { plan: planText.value, file_name: planFile.files[0] ? planFile.files[0].name : "org.toml" });
      if (plan.certificates.length) names.value = plan.certificates[0].names.map((n) => n.name).join("\n");
      findings.append(
        el("h3", {}, "Names the plan suggests"),
        plan.certificates.map((cert, i) => el("div", {},
          el("p", {}, "Certificate " + (i + 1) + ": " + cert.subject + " (at most " + cert.max_validity_days + " days) "),
          el("ul", {}, cert.names.map((n) => el("li", {}, n.name, el("span", { class: "muted" }, " — " + n.reason)))),
          i > 0 ? el("button", { class: "secondary", type: "button", onclick: () => { names.value = cert.names.map((n) => n.name).join("\n"); } }, "Use these names") : null)),
        el("h3", {}, "The planner's findings"),
        plan.findings.length ? el("ul", { class: "findings" }, plan.findings.map((f) => el("li", {},
          el("span", { class: "sev-" + f.severity }, f.severity + " " + f.code), " ", (f.names || []).join(", "), ": ", f.message,
          el("div", { class: "muted" }, "Fix: " + f.fix)))) : el("p", {}, "No findings."));
      if (plan.findings.some((f) => f.severity === "error")) kind.value = "self_signed";
    } catch (error) { failed(error); }
  } }, "Suggest names from the plan");
  const form = el("form", { id: "new-form", onsubmit: async (e) => {
    e.preventDefault();
    const list = names.value.split(/[\s,]+/).filter(Boolean);
    const body = { names: list, key: key.value, friendly_name: friendly.value || undefined, non_exportable: !exportable.checked };
    body[kind.value] = true;
    if (kind.value === "self_signed") body.days = Number(days.value);
    try {
      const result = await api("POST", "certificates", body);
      messages(result);
      if (result.csr_pem) {
        show("Request ready", el("p", {}, "Send this request to the CA; complete it with the CA's answer."), el("pre", { id: "csr" }, result.csr_pem),
          el("p", {}, el("a", { href: "#/cert/" + result.thumbprint }, "The pending request"), " · ", el("a", { href: "#/complete" }, "Complete it")));
      } else {
        location.hash = "#/cert/" + result.thumbprint;
      }
    } catch (error) { failed(error); }
  } },
    el("label", { for: "new-kind" }, "Kind"), kind,
    el("label", { for: "new-names" }, "Names"), names,
    el("p", { id: "names-help", class: "muted" }, "One per line: the first is also the subject's CN. DNS names, *.wildcards or IP addresses."),
    el("label", { for: "new-key" }, "Key"), key, daysRow,
    el("label", { for: "new-friendly" }, "Friendly name (optional)"), friendly,
    el("label", { class: "inline", for: "new-exportable" }, exportable, "The private key may be exported later"),
    el("div", {}, el("button", { class: "primary", type: "submit", id: "new-create" }, "Create")));
  show("New certificate",
    el("section", { class: "panel" }, el("h2", {}, "1. Names from a plan (optional)"),
      el("p", {}, "Paste or choose the organisation description (TOML, see docs/plan.md); the planner suggests the names and says what a CA or clients will refuse."),
      el("label", { for: "plan-file" }, "Organisation description file"), planFile,
      el("label", { for: "plan-text" }, "or its text"), planText, suggest, findings),
    el("h2", {}, "2. The certificate"), form);
}

// ---- uploads -------------------------------------------------------------

function fileBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function completePage() {
  const answer = el("input", { type: "file", id: "complete-file", required: true });
  const chain = el("input", { type: "file", id: "complete-chain", multiple: true });
  show("Complete a pending request",
    el("p", {}, "Upload what the CA sent: .cer, .crt, .pem, .der or .p7b. Add the intermediates if the CA sent them apart."),
    el("form", { id: "complete-form", onsubmit: async (e) => {
      e.preventDefault();
      if (!answer.files[0]) { say("error", "Choose the CA's answer first."); return; }
      try {
        const chainFiles = [];
        for (const f of chain.files) chainFiles.push({ file_name: f.name, file: await fileBase64(f) });
        const result = await api("POST", "complete", { file_name: answer.files[0].name, file: await fileBase64(answer.files[0]), chain: chainFiles });
        say("note", "Completed with " + answer.files[0].name + ":", ...(result.messages || []));
        if (result.thumbprint) location.hash = "#/cert/" + result.thumbprint;
      } catch (error) { failed(error); }
    } },
      el("label", { for: "complete-file" }, "The CA's answer"), answer,
      el("label", { for: "complete-chain" }, "Intermediate certificates (optional)"), chain,
      el("button", { class: "primary", type: "submit" }, "Complete")));
}

function importPage() {
  const file = el("input", { type: "file", id: "import-file", accept: ".pfx,.p12,.pem,.crt,.cer", required: true });
  const password = el("input", { type: "password", id: "import-password", autocomplete: "off" });
  const exportable = el("input", { type: "checkbox", id: "import-exportable", checked: true });
  show("Import a PFX",
    el("form", { id: "import-form", onsubmit: async (e) => {
      e.preventDefault();
      if (!file.files[0]) { say("error", "Choose a file first."); return; }
      try {
        const result = await api("POST", "import", { file_name: file.files[0].name, file: await fileBase64(file.files[0]),
          password: password.value || undefined, non_exportable: !exportable.checked });
        say("note", "Imported from " + file.files[0].name + ":", ...(result.messages || []));
        password.value = "";
        if (result.thumbprint) location.hash = "#/cert/" + result.thumbprint;
      } catch (error) { failed(error); }
    } },
      el("label", { for: "import-file" }, "File (.pfx or .p12, modern or legacy; or PEM with its key)"), file,
      el("label", { for: "import-password" }, "Password"), password,
      el("label", { class: "inline", for: "import-exportable" }, exportable, "The private key may be exported again"),
      el("button", { class: "primary", type: "submit" }, "Import")));
}

// ---- check and audit log ----------------------------------------------

function checkPage() {
  const endpoint = el("input", { type: "text", id: "check-endpoint", placeholder: "imaps://mail.contoso.com" });
  const connect = el("input", { type: "text", id: "check-connect", placeholder: "optional: 192.0.2.10[:993]" });
  const out = el("div", { id: "check-result", "aria-live": "polite" });
  show("Check an endpoint like a client",
    el("form", { id: "check-form", onsubmit: async (e) => {
      e.preventDefault();
      out.replaceChildren(el("p", {}, "Checking…"));
      try {
        const report = await api("POST", "check", { endpoint: endpoint.value, connect: connect.value || undefined });
        out.replaceChildren(...report.endpoints.map((ep) => el("section", { class: "panel" },
          el("h2", {}, ep.endpoint),
          el("p", {}, ep.connected ? "Connected: " + (ep.tls_version || "") + " " + (ep.cipher || "") : "Not connected"),
          (ep.chain || []).length ? el("ol", {}, ep.chain.map((c) => el("li", {}, c.subject, el("span", { class: "muted" }, " issued by " + c.issuer + ", until " + c.not_after)))) : null,
          (ep.findings || []).length ? el("ul", { class: "findings" }, ep.findings.map((f) => el("li", {},
            el("span", { class: "sev-" + f.severity }, f.severity + " " + f.code), " ", f.message,
            f.fix ? el("div", { class: "muted" }, "Fix: " + f.fix) : null))) : el("p", {}, "No findings: clients will be happy."))));
        clearStatus();
      } catch (error) { out.replaceChildren(); failed(error); }
    } },
      el("label", { for: "check-endpoint" }, "Endpoint"), endpoint,
      el("label", { for: "check-connect" }, "Connect to (optional)"), connect,
      el("button", { class: "primary", type: "submit" }, "Check")), out);
}

async function auditPage() {
  const entries = await api("GET", "audit?limit=200");
  show("Audit log",
    el("table", { class: "cards", id: "audit" },
      el("thead", {}, el("tr", {}, ["When", "Who", "Action", "What"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, entries.map((e) => el("tr", {},
        el("td", { "data-label": "When" }, e.at), el("td", { "data-label": "Who" }, e.user),
        el("td", { "data-label": "Action" }, e.action), el("td", { "data-label": "What" }, e.detail))))));
}

// ---- routing -------------------------------------------------------------

async function route() {
  if (!state.csrf) {
    try {
      const session = await api("GET", "session");
      state.csrf = session.csrf_token;
      state.user = session.user;
      document.getElementById("nav").hidden = false;
    } catch (error) { return; }
  }
  const hash = location.hash || "#/";
  try {
    if (hash === "#/" || hash === "#/login") await listPage();
    else if (hash.startsWith("#/cert/")) await certPage(decodeURIComponent(hash.slice(7)));
    else if (hash === "#/new") newPage();
    else if (hash === "#/complete") completePage();
    else if (hash === "#/import") importPage();
    else if (hash === "#/check") checkPage();
    else if (hash === "#/audit") await auditPage();
    else show("Not found", el("p", {}, "There is no such page. "), el("a", { href: "#/" }, "Certificates"));
  } catch (error) { failed(error); }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", "logout", {}); } catch (error) { /* the session is gone either way */ }
    state.csrf = null;
    say("note", "Logged out.");
    showLogin();
  });
  window.addEventListener("hashchange", () => {
    if (state.sticky) state.sticky = false; else clearStatus();
    route();
  });
  route();
});
