// Loads a `seglake report` page in a real browser (Debian's chromium, driven
// by Playwright) and prints what it rendered, so a test can judge it.
//
// Usage: node check_report.mjs URL SCREENSHOT.png
//   URL: file:///.../report.html or http://127.0.0.1:PORT/...
//
// Prints ONE line of JSON on stdout:
//   state            document.documentElement.dataset.charts once it is
//                    "rendered" or "failed" (the page sets it when every
//                    vega-embed promise has settled); null if it never was
//                    within 60 s
//   title            document.title
//   charset          document.characterSet: "UTF-8" unless the page lacks
//                    <meta charset="utf-8"> (then vega's U+2212 minus signs
//                    and other non-ASCII text in the inlined code and data
//                    show as mojibake)
//   charts_declared  number of .chart elements
//   charts_rendered  number of .chart elements whose SVG holds at least one
//                    drawn data mark (see RENDERED_MARK)
//   console_errors   console messages of type error, and uncaught exceptions
//   requests         every request the page made other than for its own URL
//                    (the report must need nothing: same-origin paths count)
//   values           { data-value attribute: trimmed text } for every
//                    [data-value] element; a repeated key holds an array
// and saves a full-page screenshot. Exit 0 when the page loaded and was
// measured (the caller judges the numbers); exit 2, with the reason on
// stderr, when the browser could not start or the page could not be loaded.
//
// A page served by `seglake serve` takes the bearer token: set
// CHECK_REPORT_TOKEN and every request carries it.
//
// The browser: $CHROMIUM, else /usr/bin/chromium (Debian's package); it is
// never downloaded. It runs with a fresh, empty profile that is removed
// afterwards, and every http(s) request other than the page itself is
// aborted (and recorded), so the check never reaches the network.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const TIMEOUT_MS = 60_000;

// Vega's SVG renderer draws each mark as <g class="mark-TYPE role-ROLE ...">
// with one child per datum (a <path> for rect, symbol, line, area, arc; a
// <text>, <line>, <image> or <g> for others). Axes, legends and titles have
// roles of their own (role-axis-*, role-legend-*, role-title), so a child of
// a role-mark group means data was drawn, not just an empty frame with axes.
const RENDERED_MARK = "svg g.role-mark > *";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function fail(message) {
  // Playwright colours its call logs; a test's log is plain text.
  const plain = String(message).replace(/\x1b\[[0-9;]*m/g, "");
  process.stderr.write(`check_report: ${plain}\n`);
  process.exitCode = 2;
}

// The URL without its fragment: a page's own request never carries one.
function withoutHash(url) {
  const u = new URL(url);
  u.hash = "";
  return u.href;
}

async function main() {
  const [url, screenshot] = process.argv.slice(2);
  if (!url || !screenshot || process.argv.length !== 4) {
    fail("usage: node check_report.mjs URL SCREENSHOT.png");
    return;
  }
  let pageUrl;
  try {
    pageUrl = withoutHash(url);
  } catch (e) {
    fail(`not a URL: ${url}`);
    return;
  }

  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  const profile = mkdtempSync(join(tmpdir(), "seglake-chromium-"));
  let context;
  try {
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 800 },
        deviceScaleFactor: 1,
        timeout: TIMEOUT_MS,
        extraHTTPHeaders: process.env.CHECK_REPORT_TOKEN
          ? { Authorization: `Bearer ${process.env.CHECK_REPORT_TOKEN}` }
          : {},
      });
    } catch (e) {
      fail(`could not launch ${executablePath}: ${e.message}`);
      return;
    }

    const consoleErrors = [];
    const requests = [];
    // On the context, so requests from workers and popups count too.
    context.on("request", (request) => {
      const u = request.url();
      // data: and blob: URLs are the page's own bytes, never a fetch.
      if (u.startsWith("data:") || u.startsWith("blob:")) return;
      if (withoutHash(u) !== pageUrl) requests.push(u);
    });
    // Recorded above; aborted here so nothing leaves the machine. (Playwright
    // routes only http(s); a file:// page's other file:// loads are recorded
    // but not blocked.)
    await context.route("**/*", (route) =>
      withoutHash(route.request().url()) === pageUrl ? route.continue() : route.abort(),
    );

    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const loc = msg.location();
      const where = loc && loc.url ? ` (${loc.url}:${loc.lineNumber}:${loc.columnNumber})` : "";
      consoleErrors.push(`${msg.text()}${where}`);
    });
    page.on("pageerror", (err) => consoleErrors.push(`uncaught: ${err.message}`));
    page.on("crash", () => consoleErrors.push("the page crashed"));

    try {
      const response = await page.goto(url, { waitUntil: "load", timeout: TIMEOUT_MS });
      // An http error page is not the report (file:// has no status).
      if (response && response.status() >= 400) {
        fail(`could not load ${url}: HTTP ${response.status()}`);
        return;
      }
    } catch (e) {
      fail(`could not load ${url}: ${e.message}`);
      return;
    }

    let state = null;
    try {
      const handle = await page.waitForFunction(
        () => {
          const s = document.documentElement.dataset.charts;
          return s === "rendered" || s === "failed" ? s : false;
        },
        null,
        { timeout: TIMEOUT_MS, polling: 100 },
      );
      state = await handle.jsonValue();
    } catch (e) {
      // Never settled: measured all the same, with state null.
      state = null;
    }

    const measured = await page.evaluate((markSelector) => {
      const charts = [...document.querySelectorAll(".chart")];
      const values = {};
      for (const el of document.querySelectorAll("[data-value]")) {
        const key = el.getAttribute("data-value");
        const text = (el.textContent ?? "").trim();
        if (!Object.hasOwn(values, key)) values[key] = text;
        else if (Array.isArray(values[key])) values[key].push(text);
        else values[key] = [values[key], text];
      }
      return {
        title: document.title,
        charset: document.characterSet,
        charts_declared: charts.length,
        charts_rendered: charts.filter((el) => el.querySelector(markSelector) !== null).length,
        values,
      };
    }, RENDERED_MARK);

    await page.screenshot({ path: screenshot, fullPage: true, timeout: TIMEOUT_MS });

    process.stdout.write(
      JSON.stringify({
        state,
        title: measured.title,
        charset: measured.charset,
        charts_declared: measured.charts_declared,
        charts_rendered: measured.charts_rendered,
        console_errors: consoleErrors,
        requests,
        values: measured.values,
      }) + "\n",
    );
  } catch (e) {
    fail(e.message);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
