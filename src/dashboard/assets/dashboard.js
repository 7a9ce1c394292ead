// skinbot dashboard: fetches a section again when the server says it changed (server-sent
// events), and loads filters, sorting, paging and details into their section without a reload.
// Embedded in the binary; no library.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  // The query each section was last loaded with, so a live refresh keeps the user's filters.
  const current = { now: "/frag/now", purchases: "/frag/purchases", spend: "/frag/spend", item: "/frag/item" };

  async function load(target, url) {
    let resp;
    try {
      resp = await fetch(url, { credentials: "same-origin" });
    } catch (e) {
      setLive("not reachable: is skinbot running?", false);
      return;
    }
    if (resp.status === 401) { setLive("signed out: open the URL with the token again", false); return; }
    const el = document.getElementById(target);
    const type = resp.headers.get("content-type") || "";
    // Only a fragment of this page becomes markup; anything else (an error, a proxy's page) is
    // shown as text, and the section keeps the query it last loaded.
    if (!resp.ok || !type.startsWith("text/html")) {
      const why = type.startsWith("text/plain") ? (await resp.text()).trim() : "";
      if (el) { el.textContent = why || `${resp.status} ${resp.statusText} (${type || "no content type"})`; }
      return;
    }
    if (el) {
      // Every tick refreshes Now: a halt reason being typed there keeps its text, focus and caret.
      const typing = el.querySelector("#halt-reason");
      const kept = typing && { value: typing.value, focused: document.activeElement === typing,
                               start: typing.selectionStart, end: typing.selectionEnd };
      el.innerHTML = await resp.text();
      const again = kept && el.querySelector("#halt-reason");
      if (again) {
        again.value = kept.value;
        if (kept.focused) { again.focus(); again.setSelectionRange(kept.start, kept.end); }
      }
    }
    if (target in current) { current[target] = url; }
    document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
  }

  document.addEventListener("click", (e) => {
    const close = e.target.closest("a[data-close]");
    if (close) { e.preventDefault(); document.getElementById(close.dataset.close).innerHTML = ""; return; }
    const a = e.target.closest("a[data-target]");
    if (a) {
      e.preventDefault();
      load(a.dataset.target, a.getAttribute("href")).then(() => {
        const el = document.getElementById(a.dataset.target);
        if (a.dataset.target !== "purchases" && el) { el.scrollIntoView({ block: "nearest" }); }
      });
      return;
    }
    const row = e.target.closest("tr[data-href]");
    if (row) { load("detail", row.dataset.href); }
  });

  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (form.dataset.target) {
      e.preventDefault();
      const query = new URLSearchParams(new FormData(form)).toString();
      await load(form.dataset.target, form.getAttribute("action") + "?" + query);
    } else if (form.dataset.post) {
      e.preventDefault();
      const body = new URLSearchParams(new FormData(form));
      const resp = await fetch(form.getAttribute("action"), {
        method: "POST", body, credentials: "same-origin",
        headers: { "x-csrf-token": csrf, "x-dashboard-fetch": "1" },
      });
      if (!resp.ok) { alert(await resp.text()); }
      await load("now", current.now);
    }
  });

  function setLive(text, on) {
    const el = document.getElementById("live");
    el.textContent = text;
    el.classList.toggle("on", on);
    document.body.dataset.live = on ? "open" : "closed";
  }

  // One live feed per visible tab: a browser allows 6 connections per host and port across all
  // its tabs and each feed holds one, so a hidden tab gives its connection back and, shown again,
  // reopens it and loads every section (what changed meanwhile was not heard).
  let events = null;
  function refreshAll() {
    load("purchases", current.purchases);
    load("spend", current.spend);
    load("item", current.item);
    load("now", current.now);
  }
  function openEvents() {
    if (events) { return; }
    events = new EventSource("/events");
    events.addEventListener("hello", () => setLive("live", true));
    events.onerror = () => {
      // Closed for good (the server refused it, e.g. 503: too many feeds): say so.
      if (events && events.readyState === EventSource.CLOSED) {
        setLive("not live: reload to retry (skinbot halt works from a terminal)", false);
      } else {
        setLive("live: reconnecting", false);
      }
    };
    events.addEventListener("purchases", refreshAll);
    events.addEventListener("halt", () => load("now", current.now));
    events.addEventListener("status", () => load("now", current.now));
  }
  function closeEvents() {
    if (!events) { return; }
    events.close();
    events = null;
    setLive("paused while the tab is hidden", false);
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      closeEvents();
    } else if (!events) {
      openEvents();
      refreshAll();
    }
  });
  if (document.visibilityState !== "hidden") { openEvents(); } else { setLive("paused while the tab is hidden", false); }
})();
