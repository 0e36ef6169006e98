// Drives code-server (the VS Code 1.100 web UI) in headless Chromium for tests/editors/test_vscode_ghost_text.py:
// opens a file, types at the end of a line, then presses nothing until ghost text appears (or waitMs passes),
// screenshots it, and optionally accepts it with Tab and saves.
// Usage: node drive.js '{"url", "file", "line", "text", "screenshot", "delayMs", "waitMs", "accept", "restMs"}'
// (restMs: how long the cursor rests at the line's end before the first key; default 1000).
// Prints one JSON line with what it saw; ghostAfterMs counts from the last typed key, ghostAt is epoch ms.
const puppeteer = require('puppeteer-core');

const opts = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function chord(page, modifier, key) {
  await page.keyboard.down(modifier);
  await page.keyboard.press(key);
  await page.keyboard.up(modifier);
}

async function ghostText(page) {
  const parts = await page.$$eval('[class*="ghost-text"]', (els) => els.map((e) => e.textContent));
  return parts.join('').replace(/\u00a0/g, ' ');
}

async function statusBar(page) {
  const items = await page.$$eval('.statusbar-item', (els) => els.map((e) => e.textContent));
  return items.filter((t) => t.includes('SmallCoder')).join(' | ');
}

async function openAtLineEnd(page) {
  await page.goto(opts.url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.monaco-workbench', { timeout: 120000 });
  await sleep(5000);
  await chord(page, 'Control', 'p');
  await sleep(1500);
  await page.keyboard.type(opts.file);
  await sleep(1500);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 60000 });
  // Wait for the model to load (the status bar says the backend once it is ready).
  for (let i = 0; i < 240 && !(await statusBar(page)).includes('llama_cpp'); i++) {
    await sleep(500);
  }
  await chord(page, 'Control', 'g');
  await sleep(800);
  await page.keyboard.type(String(opts.line));
  await page.keyboard.press('Enter');
  await sleep(500);
  await page.keyboard.press('End');
  await sleep(opts.restMs ?? 1000);
}

/** Type, then only watch: the ghost text must come without another key. */
async function typeAndPause(page, seen) {
  await page.keyboard.type(opts.text, { delay: opts.delayMs });
  const typedAt = Date.now();
  seen.typedAt = typedAt;
  while (!(await ghostText(page)).trim() && Date.now() - typedAt < opts.waitMs) {
    await sleep(25);
  }
  seen.ghost = await ghostText(page);
  seen.ghostAt = seen.ghost.trim() ? Date.now() : null;
  seen.ghostAfterMs = seen.ghostAt && seen.ghostAt - typedAt;
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--window-size=1280,800'],
  });
  const seen = {};
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    await openAtLineEnd(page);
    seen.statusBeforeTyping = await statusBar(page);
    await typeAndPause(page, seen);
    await sleep(1000); // the status bar picks up the latency after the answer
    seen.status = await statusBar(page);
    await page.screenshot({ path: opts.screenshot });
    if (opts.accept) {
      await page.keyboard.press('Tab');
      await sleep(1000);
      seen.ghostAfterTab = await ghostText(page);
      await chord(page, 'Control', 's');
      await sleep(1500);
    }
  } catch (error) {
    seen.error = String(error && error.stack ? error.stack : error);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})();
