// Help & contact page: the contact form stays on the page (no navigation) and
// the callback button records a custom event through the recorder.

import { record, cart, linkAgentView } from "./common.js";

linkAgentView();

const count = document.getElementById("cart-count");
if (count) {
  const n = cart.count();
  count.textContent = String(n);
  count.dataset.count = String(n);
}

const form = document.getElementById("contact-form");
const thanks = document.getElementById("contact-thanks");
form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = form.elements.namedItem("name").value.trim();
  const email = form.elements.namedItem("email").value.trim();
  thanks.textContent =
    `Thank you${name ? `, ${name}` : ""}! We have your message and will reply` +
    `${email ? ` to ${email}` : ""} within one working day.`;
  thanks.hidden = false;
});

const callbackBtn = document.getElementById("request-callback");
const callbackStatus = document.getElementById("callback-status");
callbackBtn.addEventListener("click", () => {
  const topic = document.getElementById("callback-topic").value;
  const slot = document.getElementById("callback-slot").value;
  record("callback_requested", { topic, slot });
  callbackStatus.textContent = "Thanks, an advisor will call you back. Keep this page open if you would like to co-browse.";
  callbackStatus.hidden = false;
});
