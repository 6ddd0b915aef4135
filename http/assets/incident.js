// The incident page: times in the reader's zone, and the page refreshed in
// place when the ledger records a new event for this ticket.
"use strict";

(function () {
  const { localizeTimes, subscribe } = window.Ledger;
  const article = document.getElementById("incident");
  localizeTimes(document);
  if (!article) return;
  const ticket = article.dataset.ticket;

  async function reload() {
    const response = await fetch(location.pathname, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    // The server escaped every piece of user text in this page; parsing it
    // inert (DOMParser runs no script) and moving the nodes over keeps it so.
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("incident");
    if (!fresh) return;
    const notice = fresh.querySelector(".notice-ok");
    if (notice) notice.remove();
    article.replaceChildren(...Array.from(fresh.childNodes).map((node) => document.adoptNode(node)));
    
    document.title = page.title;
    localizeTimes(article);
  }

  subscribe(article.dataset.headSeq || "0", (event) => {
    if (event.ticket === ticket) reload();
  }, () => {});
  document.body.dataset.ready = "true";
})();
