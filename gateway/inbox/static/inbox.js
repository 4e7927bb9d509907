// Live updates: the page's #live part is fetched again (debounced) whenever the tenant's event stream
// reports a new message or a status change, so lists and timelines change without a reload. Open
// <details> stay open. Plain JavaScript, served by the gateway; no other script is loaded.
(function () {
  const kind = document.body.dataset.live;
  const live = document.getElementById("live");
  if (!kind || !live || !window.EventSource) return;

  // One fetch at a time: events that come during it ask for one more fetch after it, none is lost.
  let pending = null, running = false, again = false;
  async function refresh() {
    pending = null;
    running = true;
    try {
      const open = new Set([...live.querySelectorAll("details[open]")].map(path));
      const answer = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!answer.ok) return;
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html").getElementById("live");
      if (!fresh) return;
      live.replaceChildren(...fresh.childNodes);
      live.querySelectorAll("details").forEach((d) => { if (open.has(path(d))) d.open = true; });
    } finally {
      running = false;
      if (again) { again = false; soon(); }
    }
  }
  // A <details>'s place, to keep it open across a refresh: the ids of the items it is in, and its index.
  function path(details) {
    const owner = details.closest("[data-message],[data-event],[data-conversation]");
    const key = owner ? owner.id || owner.dataset.message || owner.dataset.event || owner.dataset.conversation : "";
    const siblings = owner ? [...owner.querySelectorAll("details")] : [...live.querySelectorAll("details")];
    return key + "#" + siblings.indexOf(details);
  }

  function soon() {
    if (running) again = true;
    else if (!pending) pending = setTimeout(refresh, 150);
  }
  // The tenant's events (GET /api/v1/events's), named by kind: the body lists the names.
  const events = new EventSource("/inbox/events");
  document.body.dataset.events.split(" ").forEach((name) => events.addEventListener(name, soon));
  // Subscribed. After a reconnection (the browser makes it), what changed meanwhile is read again.
  events.addEventListener("listening", () => {
    if (document.body.dataset.stream === "open") soon();
    document.body.dataset.stream = "open";
  });
})();
