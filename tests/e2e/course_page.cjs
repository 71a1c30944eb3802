// Loads one course page in Debian's chromium (headless, driven by playwright-core from
// .npm-tools, scripts/setup-npm and scripts/setup-debian), and prints as JSON what the browser
// rendered: elements and values, console messages and page errors, every request the page made,
// and positions of drawn marks; saves a full-page screenshot.
// Usage: node course_page.cjs URL SCREENSHOT.png
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function main() {
  const [url, screenshot] = process.argv.slice(2);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "ball-fhir-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: { width: 1060, height: 900 },
  });
  const out = { console: [], pageErrors: [], requests: [] };
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (m) => out.console.push({ type: m.type(), text: m.text() }));
    page.on("pageerror", (e) => out.pageErrors.push(String(e)));
    context.on("request", (r) => out.requests.push(r.url()));
    await page.goto(url, { waitUntil: "load" });
    out.rendered = await page.evaluate(() => {
      const all = (sel) => Array.from(document.querySelectorAll(sel));
      const box = (el) => {
        const r = el.getBoundingClientRect();
        return { x: r.x, y: r.y, width: r.width, height: r.height };
      };
      const centreY = (el) => {
        const r = el.getBoundingClientRect();
        return r.y + r.height / 2;
      };
      return {
        title: document.title,
        h1: document.querySelector("h1").textContent,
        badges: all("#badges li").map((li) => li.textContent),
        charts: all("svg[role=img]").map((s) => ({
          id: s.id,
          name: s.querySelector("title").textContent,
          box: box(s),
        })),
        phases: all("g.phase").map((g) => ({ kind: g.dataset.kind, box: box(g) })),
        infusions: all('g.event[data-kind="cd3-infusion"]').map((g) => g.dataset.date),
        labs: all("g.lab").map((g) => ({
          series: g.dataset.series,
          date: g.dataset.date,
          value: g.dataset.value,
          belowLod: g.dataset.belowLod,
          y: centreY(g.querySelector("circle, rect, polygon")),
        })),
        thresholds: all("g.threshold").map((g) => ({
          value: g.dataset.value,
          y: centreY(g.querySelector("line")),
        })),
        given: all("g.given").length,
        marks: all("g.mark").map((g) => [g.dataset.day, g.dataset.marks]),
        findings: all("#findings-table tbody tr").map((tr) => tr.cells[2].textContent),
        firstDoseRow: Array.from(document.querySelectorAll("#dose-table-1 tbody tr")[14].cells)
          .map((td) => td.textContent),
        bodyMaxWidth: getComputedStyle(document.body).maxWidth,
      };
    });
    // what assistive technology gets: roles and accessible names, as the browser computes them
    out.ariaSnapshot = await page.locator("body").ariaSnapshot();
    await page.emulateMedia({ media: "print" });
    out.printMaxWidth = await page.evaluate(() => getComputedStyle(document.body).maxWidth);
    await page.emulateMedia({ media: "screen" });
    await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
