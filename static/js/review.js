// The review's meeting mode: one agenda step shown at a time, a timer against the booked duration,
// and the live refresh that never replaces a part of the page someone is typing in.
(() => {
  const root = document.getElementById("review");
  if (!root) {
    return;
  }
  const announcer = document.getElementById("review-announcer");
  const panels = () => Array.from(root.querySelectorAll(".step-panel"));
  let shownStep = null;

  const announce = (text) => {
    if (announcer) {
      announcer.textContent = text;
    }
  };

  const currentStep = () => {
    const nav = document.getElementById("review-steps-nav");
    return nav ? nav.dataset.currentStep : null;
  };

  const markNav = () => {
    root.querySelectorAll(".step-nav a[data-step]").forEach((link) => {
      link.classList.toggle("is-shown", link.dataset.step === shownStep);
    });
  };

  const showStep = (step, { focus = false } = {}) => {
    const target = panels().find((panel) => panel.dataset.step === step);
    if (!target) {
      return;
    }
    shownStep = step;
    panels().forEach((panel) => {
      panel.hidden = panel !== target;
    });
    markNav();
    if (focus) {
      target.querySelector("h2").focus();
    }
  };

  root.classList.add("one-step");
  const fromHash = window.location.hash.replace("#step-", "");
  showStep(panels().some((panel) => panel.dataset.step === fromHash) ? fromHash : currentStep(), {});

  // Step links switch the shown step in place: no navigation, not even of the fragment.
  root.addEventListener("click", (event) => {
    const link = event.target.closest(".step-nav a[data-step]");
    if (link) {
      event.preventDefault();
      showStep(link.dataset.step, { focus: true });
    }
  });

  // A part is "in use" while it holds text not yet saved, a form that came back with errors or
  // a conflict, or the focus: the live refresh leaves it alone and tries again at the next poll.
  const inUse = (part) => {
    if (part.hasAttribute("data-unsaved") || part.querySelector("[data-unsaved]")) {
      return true;
    }
    const active = document.activeElement;
    if (active && part.contains(active) && active.matches("textarea, input, select")) {
      return true;
    }
    return Array.from(part.querySelectorAll("textarea, input, select")).some((control) => {
      if (control.type === "hidden" || control.type === "submit") {
        return false;
      }
      if (control.type === "checkbox" || control.type === "radio") {
        return control.checked !== control.defaultChecked;
      }
      if (control.tagName === "SELECT") {
        return Array.from(control.options).some((option) => option.selected !== option.defaultSelected);
      }
      return control.value !== control.defaultValue;
    });
  };

  let partKept = false;
  document.body.addEventListener("htmx:oobBeforeSwap", (event) => {
    const target = event.detail.target;
    if (target.id === "review-live") {
      // Keep the old token while any part was kept: the next poll brings it again.
      if (partKept) {
        event.detail.shouldSwap = false;
      }
      partKept = false;
      return;
    }
    if (target.hasAttribute("data-live") && inUse(target)) {
      event.detail.shouldSwap = false;
      const incoming = event.detail.fragment.firstElementChild;
      if (incoming && incoming.dataset.version !== target.dataset.version) {
        target.classList.add("changed-elsewhere");
        announce("Someone else changed a part you are editing; your text is kept until you save.");
      }
      partKept = true;
    }
  });

  // When the facilitator moves the meeting on, follow if you were looking at where it was.
  let lastCurrent = currentStep();
  document.body.addEventListener("htmx:oobAfterSwap", (event) => {
    if (event.detail.target.id !== "review-steps-nav") {
      markNav();
      return;
    }
    const now = currentStep();
    const order = panels().map((panel) => panel.dataset.step);
    const [from, to, shown] = [order.indexOf(lastCurrent), order.indexOf(now), order.indexOf(shownStep)];
    // Follow from where the meeting was, or from a step it has just gone through (several moves
    // can arrive in one refresh).
    if (now !== lastCurrent && (shown === from || (from < shown && shown < to))) {
      showStep(now);
      announce(`The meeting moved on to step ${panels().findIndex((panel) => panel.dataset.step === now) + 1}.`);
    }
    lastCurrent = now;
    markNav();
  });

  // Meeting controls (start, step done, bring everyone, held) replace themselves out of band, so
  // the focus is put back here: on the same control if it is still there, else on the step shown.
  let control = null;
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt.closest("form");
    control =
      form && form.closest("#review-meeting, .step-state")
        ? { id: document.activeElement ? document.activeElement.id : "", step: shownStep }
        : null;
  });
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.elt && event.detail.elt.id === "review-live") {
      // A refresh from the others never moves this person's focus.
      event.stopPropagation();
      return;
    }
    if (!control) {
      return;
    }
    const again = control.id && document.getElementById(control.id);
    if (control.step === shownStep && again && again.offsetParent !== null) {
      again.focus();
    } else {
      const panel = panels().find((candidate) => candidate.dataset.step === shownStep);
      if (panel) {
        panel.querySelector("h2").focus();
      }
    }
    control = null;
    event.stopPropagation();
  });

  const pad = (number) => String(number).padStart(2, "0");
  const clock = (seconds) => `${Math.floor(seconds / 60)}:${pad(seconds % 60)}`;
  const tick = () => {
    const timer = root.querySelector("[data-timer]");
    if (!timer) {
      return;
    }
    const elapsed = Math.max(0, Math.floor((Date.now() - Date.parse(timer.dataset.started)) / 1000));
    const booked = Number(timer.dataset.minutes) * 60;
    timer.classList.toggle("over-time", elapsed > booked);
    timer.textContent =
      elapsed > booked
        ? `${clock(elapsed)} elapsed, ${clock(elapsed - booked)} over the booked time`
        : `${clock(elapsed)} elapsed, ${clock(booked - elapsed)} left`;
  };
  tick();
  window.setInterval(tick, 1000);
})();
