// What a co-browsing tool does when it opens the agent's view of a customer's
// session: it embeds the same recorder, marked as the agent, in the customer's
// session (`?session=` from the customer's page; without it the tab's own
// session goes on). A classic script: the recorder tag it adds reads its
// data-* attributes as the one tag in index.html does.
(function () {
  "use strict";
  var tag = document.createElement("script");
  tag.src = "/recorder.js";
  tag.async = false;
  tag.dataset.siteKey = "pk_demo";
  tag.dataset.allowParams = "view,sku";
  tag.dataset.actor = "agent";
  tag.dataset.agentId = "agent-7";
  var session = new URLSearchParams(location.search).get("session");
  if (session) tag.dataset.sessionId = session;
  document.head.appendChild(tag);
})();
