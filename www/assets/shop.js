// Lumen Outfitters: a small single-page shop (Home, Products, Product, Cart).
//
// Views are reached by in-app navigation with history.pushState to query-string
// URLs on the current page (`/?view=products`, `/agent.html?view=product&sku=A-1`),
// so a reload or a deep link works without any server-side fallback. The recorder
// drops query strings from recorded URLs, so every view also gets its own
// document.title, which the recorder records as the page name.
//
// The page talks to the recorder only through `window.recordCustom(type, value)`.

import { PRODUCTS, findProduct, formatPrice } from "./products.js";
import { h, record, cart, linkAgentView } from "./common.js";

const BRAND = "Lumen Outfitters";
// The page this shell was loaded as: "/" or "/index.html" for the customer,
// "/agent.html" for the agent's co-browsing view. In-app URLs stay on it.
const BASE = location.pathname;
// The agent's view covers the shop: it does not link to the customer's help page.
const AGENT_VIEW = BASE.endsWith("/agent.html");
if (!AGENT_VIEW) linkAgentView();

function viewUrl(params) {
  const q = new URLSearchParams(params).toString();
  return q ? `${BASE}?${q}` : BASE;
}

/** Reads the current view from the address bar. */
function currentRoute() {
  const p = new URLSearchParams(location.search);
  return { view: p.get("view") || "home", sku: p.get("sku") || "" };
}

function titleFor(route) {
  switch (route.view) {
    case "home":
      return `${BRAND} · Gear for long days outside`;
    case "products":
      return `Products · ${BRAND}`;
    case "cart":
      return `Cart · ${BRAND}`;
    case "product": {
      const p = findProduct(route.sku);
      return p ? `${p.name} · ${BRAND}` : `Product not found · ${BRAND}`;
    }
    default:
      return `Page not found · ${BRAND}`;
  }
}

// ---------------------------------------------------------------- navigation

/**
 * In-app navigation. The title is set before pushState so that anything
 * observing history (the recorder) sees the new view's name with the new URL.
 */
function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (target.origin !== location.origin || target.pathname !== BASE) {
    location.assign(target.href);
    return;
  }
  if (target.href === location.href && !replace) {
    render({ focus: true });
    return;
  }
  const route = {
    view: target.searchParams.get("view") || "home",
    sku: target.searchParams.get("sku") || "",
  };
  document.title = titleFor(route);
  if (replace) history.replaceState({ view: route.view }, "", target.href);
  else history.pushState({ view: route.view }, "", target.href);
  render({ focus: true });
}

function link(href, text, attrs = {}) {
  return h("a", { href, "data-link": "", ...attrs }, text);
}

document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0) return;
  if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target instanceof Element ? ev.target.closest("a[data-link]") : null;
  if (!a || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname !== BASE) return;
  ev.preventDefault();
  navigate(url.href);
});

window.addEventListener("popstate", () => render({ focus: true }));

// ---------------------------------------------------------------- rendering

const view = document.getElementById("view");

function render({ focus = false } = {}) {
  const route = currentRoute();
  document.title = titleFor(route);
  let content;
  switch (route.view) {
    case "home":
      content = homeView();
      break;
    case "products":
      content = productsView();
      break;
    case "product":
      content = productView(route.sku);
      break;
    case "cart":
      content = cartView();
      break;
    default:
      content = notFoundView();
  }
  view.replaceChildren(content);
  view.dataset.view = route.view;
  markCurrentNav(route.view === "product" ? "products" : route.view);
  updateCartCount();
  if (focus) {
    const heading = view.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    if (window.scrollY > 0) window.scrollTo(0, 0);
  }
}

function markCurrentNav(name) {
  for (const id of ["home", "products", "cart"]) {
    const a = document.getElementById(`nav-${id}`);
    if (!a) continue;
    if (id === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function updateCartCount() {
  const el = document.getElementById("cart-count");
  if (!el) return;
  const n = cart.count();
  el.textContent = String(n);
  el.dataset.count = String(n);
  el.setAttribute("aria-label", `${n} item${n === 1 ? "" : "s"} in cart`);
}

function swatch(p, large = false) {
  return h(
    "div",
    {
      class: large ? "swatch large" : "swatch",
      style: { background: `linear-gradient(135deg, ${p.colors[0]}, ${p.colors[1]})` },
      "aria-hidden": "true",
    },
    p.monogram,
  );
}

/** Quantity field + "Add to cart" button (id="add-to-cart") for one product. */
function buyRow(p) {
  const qty = h("input", {
    type: "number",
    id: "qty",
    name: "qty",
    min: "1",
    max: "20",
    value: String(p.defaultQty),
    inputmode: "numeric",
  });
  const status = h("p", { id: "cart-status", class: "notice", role: "status", hidden: "" });
  const add = h(
    "button",
    { type: "button", id: "add-to-cart", class: "btn", "data-sku": p.sku },
    "Add to cart",
  );
  add.addEventListener("click", () => {
    const n = Math.max(1, Math.min(20, Number.parseInt(qty.value, 10) || 1));
    cart.add(p.sku, n);
    record("cart", { sku: p.sku, qty: n });
    updateCartCount();
    status.hidden = false;
    status.replaceChildren(
      `Added ${n} × ${p.name} to your cart. `,
      link(viewUrl({ view: "cart" }), "View cart", { id: "status-view-cart" }),
    );
  });
  return [
    h(
      "div",
      { class: "buy-row" },
      h("div", {}, h("label", { for: "qty" }, "Quantity"), qty),
      add,
    ),
    status,
  ];
}

function productCard(p) {
  const quick = h(
    "button",
    { type: "button", class: "btn small secondary", id: `quick-add-${p.sku}`, "data-sku": p.sku },
    "Quick add",
  );
  quick.addEventListener("click", () => {
    cart.add(p.sku, 1);
    record("cart", { sku: p.sku, qty: 1 });
    updateCartCount();
    quick.textContent = "Added ✓";
    setTimeout(() => {
      quick.textContent = "Quick add";
    }, 1500);
  });
  return h(
    "article",
    { class: "card", "data-sku": p.sku },
    swatch(p),
    h(
      "div",
      { class: "body" },
      h("span", { class: "tag" }, p.category),
      h("h3", {}, link(viewUrl({ view: "product", sku: p.sku }), p.name, { id: `product-link-${p.sku}` })),
      h("p", { class: "muted small" }, p.blurb),
      h("div", { class: "row" }, h("span", { class: "price" }, formatPrice(p.price)), quick),
    ),
  );
}

function homeView() {
  const shopNow = h("button", { type: "button", class: "btn", id: "shop-now" }, "Shop the collection");
  shopNow.addEventListener("click", () => navigate(viewUrl({ view: "products" })));
  return h(
    "div",
    {},
    h(
      "section",
      { class: "hero" },
      h(
        "div",
        {},
        h("span", { class: "tag" }, "Autumn collection"),
        h("h1", {}, "Gear for long days outside"),
        h(
          "p",
          { class: "lede" },
          "Lumen Outfitters makes hard-wearing, repairable kit for walkers and campers. Small range, honest prices, and real people on the other end when you need help.",
        ),
        h(
          "div",
          { class: "actions" },
          shopNow,
          !AGENT_VIEW && h("a", { class: "btn ghost", href: "/support.html", id: "hero-support" }, "Talk to support"),
        ),
      ),
      h("div", { class: "hero-art", role: "img", "aria-label": "Sunset over green hills" }),
    ),
    h(
      "ul",
      { class: "perks" },
      h("li", {}, h("strong", {}, "Free returns"), "Send it back within 30 days, no questions asked."),
      h("li", {}, h("strong", {}, "Repairs for life"), "Broken zip or torn seam? We fix our own gear."),
      h("li", {}, h("strong", {}, "Live co-browsing help"), "An advisor can look at this page with you."),
    ),
    h(
      "section",
      {},
      h(
        "div",
        { class: "section-head" },
        h("h2", {}, "Bestsellers"),
        link(viewUrl({ view: "products" }), "See all products →", { id: "home-all-products" }),
      ),
      h("div", { class: "grid" }, ...PRODUCTS.slice(0, 3).map(productCard)),
    ),
  );
}

function productsView() {
  const featured = PRODUCTS[0];
  return h(
    "div",
    {},
    h("h1", {}, "Products"),
    h("p", { class: "lede" }, "Everything we make, tested on wet weekends in the hills."),
    h(
      "section",
      { class: "featured", "aria-labelledby": "featured-name", "data-sku": featured.sku },
      swatch(featured),
      h(
        "div",
        {},
        h("span", { class: "tag" }, "Featured · buy a pair, save 10%"),
        h("h2", { id: "featured-name" }, featured.name),
        h("p", { class: "muted" }, featured.blurb),
        h("p", { class: "price" }, `${formatPrice(featured.price)} each`),
        ...buyRow(featured),
      ),
    ),
    h("h2", {}, "All products"),
    h("div", { class: "grid", id: "product-grid" }, ...PRODUCTS.map(productCard)),
  );
}

function productView(sku) {
  const p = findProduct(sku);
  if (!p) return notFoundView("We could not find that product. It may have sold out for the season.");
  return h(
    "div",
    {},
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      link(viewUrl({ view: "products" }), "Products", { id: "crumb-products" }),
      " / ",
      p.category,
    ),
    h(
      "div",
      { class: "detail", "data-sku": p.sku },
      swatch(p, true),
      h(
        "div",
        {},
        h("span", { class: "tag" }, `${p.category} · SKU ${p.sku}`),
        h("h1", {}, p.name),
        h("p", { class: "price" }, formatPrice(p.price)),
        h("p", {}, p.description),
        h("ul", { class: "specs" }, ...p.specs.map((s) => h("li", {}, s))),
        ...buyRow(p),
        !AGENT_VIEW &&
          h(
            "p",
            { class: "small muted" },
            "Questions about sizing or materials? ",
            h("a", { href: "/support.html", id: "product-support" }, "Ask our team"),
            ".",
          ),
      ),
    ),
  );
}

function cartView() {
  const lines = cart.lines();
  const heading = h("h1", {}, "Your cart");
  if (lines.length === 0) {
    return h(
      "div",
      {},
      heading,
      h(
        "div",
        { class: "empty", id: "cart-empty" },
        h("p", {}, "Your cart is empty."),
        link(viewUrl({ view: "products" }), "Browse products", { class: "btn", id: "cart-browse" }),
      ),
    );
  }
  let total = 0;
  const rows = lines.map(({ sku, qty }) => {
    const p = findProduct(sku);
    const name = p ? p.name : sku;
    const price = p ? p.price : 0;
    total += price * qty;
    const remove = h(
      "button",
      { type: "button", class: "btn small ghost", id: `remove-${sku}`, "data-sku": sku },
      "Remove",
    );
    remove.addEventListener("click", () => {
      cart.remove(sku);
      record("cart_removed", { sku });
      render();
    });
    return h(
      "tr",
      { "data-sku": sku },
      h("td", {}, p ? link(viewUrl({ view: "product", sku }), name) : name),
      h("td", {}, sku),
      h("td", { class: "num" }, String(qty)),
      h("td", { class: "num" }, formatPrice(price * qty)),
      h("td", { class: "num" }, remove),
    );
  });
  const clear = h("button", { type: "button", class: "btn ghost", id: "clear-cart" }, "Empty cart");
  clear.addEventListener("click", () => {
    cart.clear();
    record("cart_cleared", {});
    render();
  });
  const status = h("p", { class: "notice", id: "checkout-status", role: "status", hidden: "" });
  const checkout = h("button", { type: "button", class: "btn", id: "checkout" }, "Checkout");
  checkout.addEventListener("click", () => {
    record("checkout_started", { items: cart.count(), total: Math.round(total * 100) / 100 });
    status.hidden = false;
    status.textContent =
      "Thanks! This is a demo shop, so no order was placed and no payment was taken.";
  });
  return h(
    "div",
    {},
    heading,
    h(
      "table",
      { class: "cart-table", id: "cart-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Item"),
          h("th", {}, "SKU"),
          h("th", { class: "num" }, "Qty"),
          h("th", { class: "num" }, "Price"),
          h("th", { class: "num" }, h("span", { class: "visually-hidden" }, "Actions")),
        ),
      ),
      h("tbody", {}, ...rows),
    ),
    h(
      "div",
      { class: "cart-actions" },
      h("span", { class: "cart-total", id: "cart-total" }, `Total ${formatPrice(total)}`),
      clear,
      checkout,
    ),
    status,
  );
}

function notFoundView(message = "That page does not exist.") {
  return h(
    "div",
    { class: "empty" },
    h("h1", {}, "Not found"),
    h("p", {}, message),
    link(viewUrl({ view: "products" }), "Back to products", { class: "btn" }),
  );
}

window.addEventListener("storage", (ev) => {
  if (ev.key === cart.KEY) {
    updateCartCount();
    if (currentRoute().view === "cart") render();
  }
});

render();
