// Progressive enhancements; every form works without JavaScript.
//
// In-place updates (htmx) all go through one mechanism here:
// - a form's 400/409/422 answer is swapped where the form is (htmx-config responseHandling in
//   base.html), with the error summary of templates/form_errors.html;
// - after every swap the focus goes somewhere sensible: the first invalid field, else the element
//   marked data-focus-first (an add form left open for the next entry), else the updated region;
// - what happened is said in the page's aria-live region (#announcer);
// - answers that cannot be shown in place (403, 404, 5xx, no connection) are shown beside the
//   element that made the request, and said in the live region too.
(() => {
  "use strict";

  const FIELD = "input:not([type=hidden]), textarea, select";

  function announce(text) {
    const region = document.getElementById("announcer");
    if (!region || !text) return;
    // Emptying first makes a repeated message be read again.
    region.textContent = "";
    window.setTimeout(() => { region.textContent = text; }, 50);
  }

  function focusable(element) {
    if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    return element;
  }

  function swappedRegion(detail) {
    const target = detail.target;
    if (target && target.isConnected) return target;
    return (target && target.id && document.getElementById(target.id)) || document.getElementById("main");
  }

  function settleFocus(region, succeeded) {
    const invalid = region.querySelector("[aria-invalid=true]");
    if (invalid) {
      invalid.focus();
      const summary = region.querySelector("[data-error-summary]");
      announce(summary ? summary.innerText : "Please correct the highlighted fields.");
      return;
    }
    const summary = region.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      return;
    }
    const first = region.querySelector("[data-focus-first]");
    if (succeeded && first) {
      const field = first.matches(FIELD) ? first : first.querySelector(FIELD);
      if (field) field.focus();
    } else if (!document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected) {
      focusable(region).focus();
    }
    const said = region.matches("[data-announce]") ? region : region.querySelector("[data-announce]");
    if (succeeded && said) announce(said.dataset.announce);
  }

  function showFailure(element, text) {
    const anchor = element.closest("form") || element;
    let note = anchor.nextElementSibling;
    if (!note || !note.matches(".request-error")) {
      note = document.createElement("p");
      note.className = "error request-error";
      note.setAttribute("role", "alert");
      anchor.insertAdjacentElement("afterend", note);
    }
    note.textContent = text;
    announce(text);
  }

  function failureText(status) {
    if (status === 403) return "You are not allowed to do that.";
    if (status === 404) return "That is no longer there: reload the page to see the current state.";
    if (status === 413) return "That is too long to send.";
    return `Something went wrong on the server (${status}); nothing was changed. Try again in a moment.`;
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    const status = event.detail.xhr ? event.detail.xhr.status : 200;
    settleFocus(swappedRegion(event.detail), status < 400);
  });

  document.addEventListener("htmx:responseError", (event) => {
    showFailure(event.detail.elt, failureText(event.detail.xhr.status));
  });

  document.addEventListener("htmx:sendError", (event) => {
    showFailure(event.detail.elt, "The server could not be reached; nothing was saved. Check your connection and try again.");
  });

  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt.closest("form");
    const note = form && form.nextElementSibling;
    if (note && note.matches(".request-error")) note.remove();
  });

  // Confirmation before destructive buttons, for content loaded later as well.
  document.addEventListener("click", (event) => {
    const element = event.target.closest("[data-confirm]");
    if (element && !window.confirm(element.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  });

  // Copy buttons: data-copy names the field whose value goes to the clipboard (e.g. a feed address).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    const field = button && document.querySelector(button.dataset.copy);
    if (!field) return;
    field.select();
    const done = () => { button.textContent = "Copied"; };
    if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, () => {});
    else if (document.execCommand("copy")) done();
  });

  // The analysis report: the draft saves itself a few seconds after typing stops, with the same
  // version check as the Save button, so it never overwrites a newer save made elsewhere; leaving
  // with unsaved text asks first; time spent past the allocation is pointed out as it is typed.
  function analysisEditor(form) {
    const status = document.getElementById("autosave-status");
    const version = form.querySelector("input[name=version]");
    const timeSpent = form.querySelector("[data-allocated-minutes]");
    const timeWarning = document.getElementById("time-warning");
    let edits = 0;
    let savedEdits = 0;
    let timer = null;
    let saving = false;
    let stopped = false;

    function say(text, urgent) {
      status.textContent = text;
      status.setAttribute("role", urgent ? "alert" : "status");
    }

    async function save() {
      if (stopped || saving || edits === savedEdits) return;
      saving = true;
      const sent = edits;
      const body = new FormData(form);
      body.delete("new_themes");
      try {
        const response = await fetch(form.dataset.autosaveUrl, { method: "POST", body, credentials: "same-origin" });
        if (response.ok) {
          const answer = await response.json();
          version.value = answer.version;
          savedEdits = sent;
          say(`Draft saved at ${answer.saved_at}.`, false);
        } else if (response.status === 409) {
          stopped = true;
          say("Not saved: a newer version was saved elsewhere (another window?). Your text is kept here: press Save to compare the two and merge them.", true);
        } else if (response.status === 400) {
          say("Draft not saved: check the fields marked as needed, then press Save.", true);
        } else {
          say(`Draft not saved (${response.status}); your text is still here. Press Save to try again.`, true);
        }
      } catch (error) {
        say("Draft not saved: the server could not be reached. Your text is still here; it will be saved when the connection is back.", true);
        timer = window.setTimeout(save, 15000);
      } finally {
        saving = false;
      }
      if (!stopped && edits !== savedEdits && !timer) schedule();
    }

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => { timer = null; save(); }, 2500);
    }

    function warnAboutTime() {
      if (!timeSpent || !timeWarning) return;
      timeWarning.hidden = !(Number(timeSpent.value) > Number(timeSpent.dataset.allocatedMinutes));
    }

    function edited(event) {
      if (event.target.name === "version") return;
      edits += 1;
      if (event.target === timeSpent) warnAboutTime();
      if (event.target.name !== "new_themes") schedule();
    }

    form.addEventListener("input", edited);
    form.addEventListener("change", (event) => { if (event.target.type === "checkbox") edited(event); });
    form.addEventListener("submit", () => {
      // The form itself carries the text now: nothing is left to lose, and no autosave may race it.
      stopped = true;
      window.clearTimeout(timer);
      savedEdits = edits;
    });
    window.addEventListener("beforeunload", (event) => {
      if (edits !== savedEdits) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    // After a full page load with errors (no JavaScript swap involved), start at the first problem.
    const main = document.getElementById("main");
    const conflict = document.getElementById("conflict");
    const invalid = main && main.querySelector("[aria-invalid=true]");
    if (conflict) conflict.focus();
    else if (invalid) invalid.focus();
    const analysisForm = document.getElementById("analysis-form");
    if (analysisForm && analysisForm.dataset.autosaveUrl) analysisEditor(analysisForm);
  });
})();
