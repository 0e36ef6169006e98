// When the extension tells the server where the cursor rests (src/warm.ts). Run after `npm run compile`:
// node --test test/   (tests/editors/test_vscode_build.py does).
const test = require('node:test');
const assert = require('node:assert/strict');
const { RestingCursor } = require('../out/warm.js');

const REST_MS = 20;
const spot = { uri: 'file:///work/fib.py', version: 3, line: 2, character: 4 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function watch(here) {
  const sent = [];
  const cursor = new RestingCursor((s) => sent.push(s), () => here.spot, REST_MS);
  return { sent, cursor };
}

test('a move by the user is sent once the cursor has rested there', async () => {
  const here = { spot };
  const { sent, cursor } = watch(here);
  cursor.moved(spot, true);
  assert.deepEqual(sent, []); // not before it rests
  await sleep(REST_MS * 3);
  assert.deepEqual(sent, [spot]);
  cursor.dispose();
});

test('moves in a row send only where the cursor stopped', async () => {
  const last = { ...spot, line: 9 };
  const here = { spot: last };
  const { sent, cursor } = watch(here);
  cursor.moved(spot, true);
  cursor.moved({ ...spot, line: 5 }, true);
  cursor.moved(last, true);
  await sleep(REST_MS * 3);
  assert.deepEqual(sent, [last]);
  cursor.dispose();
});

test('a move by an edit, somewhere not served, or a cursor gone elsewhere sends nothing', async () => {
  const here = { spot };
  const { sent, cursor } = watch(here);
  cursor.moved(spot, false); // typing: the requests say where the cursor is
  await sleep(REST_MS * 3);
  cursor.moved(undefined, true); // a selection, or a document the server does not serve
  await sleep(REST_MS * 3);
  cursor.moved(spot, true);
  here.spot = { ...spot, version: 4 }; // a key typed before the rest ended
  await sleep(REST_MS * 3);
  cursor.moved(spot, true);
  cursor.moved(spot, false); // an edit right after the move cancels it
  await sleep(REST_MS * 3);
  assert.deepEqual(sent, []);
  cursor.dispose();
});

test('a move that comes with a new version of the document (a typed key) sends nothing', async () => {
  const typed = { ...spot, version: 4, character: 5 };
  const here = { spot: typed };
  const { sent, cursor } = watch(here);
  cursor.moved(spot, true);
  cursor.moved(typed, true); // VS Code reports typing as a keyboard move
  await sleep(REST_MS * 3);
  assert.deepEqual(sent, []);
  const moved = { ...typed, character: 2 };
  here.spot = moved;
  cursor.moved(moved, true); // then an arrow key: the same version
  await sleep(REST_MS * 3);
  assert.deepEqual(sent, [moved]);
  cursor.dispose();
});

test('dispose stops a pending send', async () => {
  const { sent, cursor } = watch({ spot });
  cursor.moved(spot, true);
  cursor.dispose();
  await sleep(REST_MS * 3);
  assert.deepEqual(sent, []);
});
