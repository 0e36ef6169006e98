// Drives code-server (the VS Code 1.100 web UI) in headless Chromium for tests/editors/test_vscode_ghost_text.py:
// opens a file, waits for the server's model, types at the end of a line, then presses nothing until ghost text
// appears (or waitMs passes), screenshots it, and optionally accepts it with Tab and saves.
// Usage: node drive.js '{"url", "file", "path", "line", "text", "screenshot", "delayMs", "waitMs", "accept", "restMs"}'
// (path: the file on disk, to see the save; restMs: how long the cursor rests at the line's end before the first
// key; default 1000).
// Prints one JSON line with what it saw; ghostAfterMs counts from the last typed key, ghostAt is epoch ms.
// Every step waits for what it needs on screen rather than for a fixed time: a slow machine only takes longer.
const fs = require('fs');
const puppeteer = require('puppeteer-core');

const opts = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const STEP_MS = 60000; // one UI step (a quick-input box, a tab, the cursor) on a busy 2-core machine
const MODEL_MS = 300000; // the server's first start on a new machine measures the rungs before it loads one

/** Poll `check` until it returns something truthy; throw naming `what` after `timeoutMs`. */
async function waitFor(what, check, timeoutMs = STEP_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(100);
  }
}

async function chord(page, modifier, key) {
  await page.keyboard.down(modifier);
  await page.keyboard.press(key);
  await page.keyboard.up(modifier);
}

async function ghostText(page) {
  const parts = await page.$$eval('[class*="ghost-text"]', (els) => els.map((e) => e.textContent));
  return parts.join('').replace(/\u00a0/g, ' ');
}

/** The SmallCoder status bar item: its text and its state, read from its icon (spinning, sparkle or error). */
async function smallCoderStatus(page) {
  return page.$$eval('.statusbar-item', (els) => {
    const item = els.find((e) => e.textContent.includes('SmallCoder'));
    if (!item) {
      return { text: '', state: 'absent' };
    }
    const state = item.querySelector('.codicon-sparkle, .codicon-circle-slash')
      ? 'ready'
      : item.querySelector('.codicon-error')
        ? 'error'
        : 'loading';
    return { text: item.textContent.trim(), state };
  });
}

async function statusBarText(page) {
  return (await page.$$eval('.statusbar-item', (els) => els.map((e) => e.textContent))).join(' | ');
}

async function quickInputVisible(page) {
  return page.$$eval('.quick-input-widget', (els) =>
    els.some((e) => e.offsetParent !== null && e.style.display !== 'none'),
  );
}

/** Open the quick-input box with Ctrl+`key` (pressed again until the workbench takes keys) and type `text`. */
async function quickInput(page, key, text) {
  await waitFor(`Ctrl+${key} to open the quick-input box`, async () => {
    await chord(page, 'Control', key);
    return waitFor('the quick-input box', () => quickInputVisible(page), 2000).catch(() => false);
  });
  await page.keyboard.type(text);
}

async function openAtLineEnd(page) {
  await page.goto(opts.url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.monaco-workbench', { timeout: 120000 });
  await quickInput(page, 'p', opts.file);
  const rows = '.quick-input-list .monaco-list-row';
  const listed = () => page.$$eval(rows, (els, f) => els.some((e) => e.textContent.includes(f)), opts.file);
  await waitFor(`${opts.file} in the quick-open list`, listed);
  await page.keyboard.press('Enter');
  await waitFor(`the ${opts.file} tab`, () =>
    page.$$eval('.tab.active', (tabs, file) => tabs.some((t) => t.textContent.includes(file)), opts.file),
  );
  const status = await waitFor(
    "the server's model (the SmallCoder status item ready)",
    async () => {
      const now = await smallCoderStatus(page);
      return now.state === 'ready' || now.state === 'error' ? now : null;
    },
    MODEL_MS,
  );
  if (status.state !== 'ready') {
    throw new Error(`the SmallCoder status item shows an error: ${status.text}`);
  }
  await quickInput(page, 'g', String(opts.line));
  await page.keyboard.press('Enter');
  await waitFor('the go-to-line box to close', async () => !(await quickInputVisible(page)));
  await page.keyboard.press('End');
  const cursorThere = async () => (await statusBarText(page)).includes(`Ln ${opts.line},`);
  await waitFor(`the cursor on line ${opts.line}`, cursorThere);
  await sleep(opts.restMs ?? 1000); // the cursor rests here, as a person's does before typing
  return status;
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

async function acceptAndSave(page, seen) {
  await page.keyboard.press('Tab');
  await waitFor('Tab to take the ghost text', async () => !(await ghostText(page)).trim(), 10000).catch(() => null);
  seen.ghostAfterTab = await ghostText(page);
  const before = fs.readFileSync(opts.path, 'utf8');
  await chord(page, 'Control', 's');
  await waitFor(`${opts.file} saved`, () => fs.readFileSync(opts.path, 'utf8') !== before);
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // The machine has no network but loopback: keep Chromium from trying to reach its own services.
    args: ['--no-sandbox', '--disable-gpu', '--window-size=1280,800', '--no-first-run', '--disable-sync',
      '--disable-background-networking', '--disable-component-update', '--disable-quic'],
  });
  const seen = {};
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1280, height: 800 });
    seen.statusBeforeTyping = await openAtLineEnd(page);
    await typeAndPause(page, seen);
    // The status bar shows the latency once the extension has asked for it (cosmetic: for the screenshot).
    const latencyShown = async () => / ms/.test((await smallCoderStatus(page)).text);
    await waitFor('the latency in the status bar', latencyShown, 3000).catch(() => null);
    seen.status = (await smallCoderStatus(page)).text;
    await page.screenshot({ path: opts.screenshot });
    if (opts.accept) {
      await acceptAndSave(page, seen);
    }
  } catch (error) {
    seen.error = String(error && error.stack ? error.stack : error);
    await page.screenshot({ path: opts.screenshot }).catch(() => null); // what the screen showed when it failed
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})();
