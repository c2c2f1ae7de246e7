// VS Code's terminal engine for tests/test_vscode.py: xterm.js with its image addon (as VS Code loads
// it when `terminal.integrated.enableImages` is on) in headless Chromium, bridged to a pty that the
// Python test owns. One JSON object a line each way:
//   in:  {out: base64}: bytes the program wrote, to draw; {type: text} / {press: key}: the keyboard;
//        {paste: text}: a paste (bracketed, as the program asked);
//        {shot: path, id}: a PNG of the terminal; {font: px, id}: a font zoom in a panel of fixed
//        size (fewer, larger cells, as VS Code's terminal zoom does); {quit: true}
//   out: {ready: size} once drawn; {input: text}: what the terminal sends the program (keys and the
//        answers to its queries); {done: id, size?}, where size is [columns, rows, width px, height px]
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const PANEL = { width: 1400, height: 860 };
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: PANEL });
await page.setContent(`<html><body style="margin:0;background:#1e1e1e">
  <div id="panel" style="width:${PANEL.width}px;height:${PANEL.height}px"></div></body></html>`);
await page.addStyleTag({ path: here + "node_modules/@xterm/xterm/css/xterm.css" });
await page.addScriptTag({ path: here + "node_modules/@xterm/xterm/lib/xterm.js" });
await page.addScriptTag({ path: here + "node_modules/@xterm/addon-image/lib/addon-image.js" });
await page.exposeFunction("toProgram", (text) => send({ input: text }));
const size = await page.evaluate((panel) => {
  const term = new Terminal({ allowProposedApi: true, fontFamily: "DejaVu Sans Mono, monospace", fontSize: 14,
                              scrollback: 1000, cols: 80, rows: 24 });
  term.loadAddon(new ImageAddon.ImageAddon());
  term.open(document.getElementById("panel"));
  term.focus();
  term.onData((text) => window.toProgram(text));
  term.onBinary((text) => window.toProgram(text));
  window.term = term;
  window.fit = async () => {  // as many cells as the panel holds, as VS Code's panel does
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const screen = document.querySelector(".xterm-screen").getBoundingClientRect();
    const cell = { width: screen.width / term.cols, height: screen.height / term.rows };
    term.resize(Math.floor(panel.width / cell.width), Math.floor(panel.height / cell.height));
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const fitted = document.querySelector(".xterm-screen").getBoundingClientRect();
    return [term.cols, term.rows, Math.round(fitted.width), Math.round(fitted.height)];
  };
  return window.fit();
}, PANEL);
send({ ready: size });

let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const message = JSON.parse(line);
  queue = queue.then(() => handle(message)).catch((error) => send({ error: String(error) }));
});
lines.on("close", () => queue.then(() => browser.close()));

async function handle(message) {
  if (message.out !== undefined) {
    await page.evaluate((data) => new Promise((resolve) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      window.term.write(bytes, resolve);
    }), message.out);
  } else if (message.type !== undefined) {
    await page.keyboard.type(message.type);
  } else if (message.paste !== undefined) {
    await page.evaluate((text) => window.term.paste(text), message.paste);
  } else if (message.press !== undefined) {
    await page.keyboard.press(message.press);
  } else if (message.shot !== undefined) {  // once what was written is drawn
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.locator(".xterm-screen").screenshot({ path: message.shot });
    send({ done: message.id });
  } else if (message.font !== undefined) {
    const size = await page.evaluate((px) => {
      window.term.options.fontSize = px;
      return window.fit();
    }, message.font);
    send({ done: message.id, size });
  } else if (message.quit) {
    await browser.close();
    process.exit(0);
  }
}
