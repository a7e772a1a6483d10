// The Lumen Outfitters catalogue (static demo data).

export const PRODUCTS = [
  {
    sku: "A-1",
    name: "Trailhead Merino Socks",
    category: "Socks",
    price: 18,
    defaultQty: 2,
    monogram: "TS",
    colors: ["#6b8f71", "#2f5d50"],
    blurb: "Cushioned merino hiking socks that stay warm when wet. Best bought in pairs.",
    description:
      "Knitted from 70% merino wool with a nylon core for strength, these socks have a cushioned sole, a seamless toe and a snug arch band so they stay put on long descents.",
    specs: ["70% merino, 27% nylon, 3% elastane", "Sizes S (36–38) to XL (45–47)", "Machine washable at 30 °C"],
  },
  {
    sku: "A-2",
    name: "Ridgeline Daypack 22 L",
    category: "Packs",
    price: 89,
    defaultQty: 1,
    monogram: "RD",
    colors: ["#c9793a", "#8a4b23"],
    blurb: "A light, weatherproof daypack with a ventilated back panel.",
    description:
      "Our everyday pack for a day on the hills: a roll-top main compartment, two stretch side pockets, a hip belt that tucks away, and a back panel that lets air through on the climbs.",
    specs: ["22 litres, 780 g", "Recycled 210D ripstop, PFC-free coating", "Fits a 2 L hydration bladder"],
  },
  {
    sku: "B-1",
    name: "Emberlight Camp Lantern",
    category: "Camp",
    price: 34,
    defaultQty: 1,
    monogram: "EL",
    colors: ["#e4b04a", "#b06a1f"],
    blurb: "Warm, dimmable USB-C lantern that runs for three nights on a charge.",
    description:
      "A soft, warm light for the tent or the picnic table. Twist to dim, hang it from the loop, or use it as a power bank for your phone in a pinch.",
    specs: ["Up to 300 lumens", "40 h on low", "IPX4 splash resistant"],
  },
  {
    sku: "B-2",
    name: "Stillwater Insulated Bottle",
    category: "Camp",
    price: 27,
    defaultQty: 1,
    monogram: "SB",
    colors: ["#4e7fa0", "#274a66"],
    blurb: "Keeps tea hot for 12 hours and water cold for a day.",
    description:
      "Double-walled stainless steel with a leak-proof lid that you can open with gloves on. Powder-coated so it does not slip out of cold hands.",
    specs: ["750 ml", "18/8 stainless steel", "Dishwasher safe (body)"],
  },
  {
    sku: "C-1",
    name: "Northfold Rain Shell",
    category: "Jackets",
    price: 139,
    defaultQty: 1,
    monogram: "NR",
    colors: ["#3d5a6c", "#1f2f3a"],
    blurb: "A packable three-layer waterproof that breathes on the uphill.",
    description:
      "Fully taped seams, a stiffened peak that keeps rain off your glasses, and pit zips for when the sun comes out. Packs into its own chest pocket.",
    specs: ["20,000 mm waterproof", "Weight 340 g (size M)", "Repairable: spare zip pulls included"],
  },
  {
    sku: "C-2",
    name: "Canopy Ultralight Hammock",
    category: "Camp",
    price: 64,
    defaultQty: 1,
    monogram: "CH",
    colors: ["#8aa05a", "#4d6233"],
    blurb: "A roomy parachute-nylon hammock with tree-friendly straps.",
    description:
      "Sets up in two minutes between any two trees and packs down to the size of a grapefruit. The wide straps protect the bark.",
    specs: ["Holds up to 150 kg", "Weight 480 g with straps", "Stuff sack attached"],
  },
];

export function findProduct(sku) {
  return PRODUCTS.find((p) => p.sku === sku) || null;
}

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

export function formatPrice(n) {
  return money.format(n);
}
