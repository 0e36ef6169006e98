// When the extension acts on `smallcoder/suggestionReady` (src/ready.ts). Run after `npm run compile`:
// node --test test/   (tests/editors/test_vscode_build.py does).
const test = require('node:test');
const assert = require('node:assert/strict');
const { ReadyPushes } = require('../out/ready.js');

const uri = 'file:///work/fib.py';
const here = { uri, version: 7, line: 2, character: 8 };
const ready = { uri, version: 7, position: { line: 2, character: 8 } };

test('a notification for the cursor in the active document at its version is acted on once', () => {
  const pushes = new ReadyPushes();
  assert.equal(pushes.accept(ready, here), true);
  assert.equal(pushes.take({ ...here }), true);
  assert.equal(pushes.take({ ...here }), false); // the next request there is the user's own
});

test('a notification for another version, position or document is ignored', () => {
  const pushes = new ReadyPushes();
  assert.equal(pushes.accept({ ...ready, version: 6 }, here), false);
  assert.equal(pushes.accept({ ...ready, position: { line: 2, character: 7 } }, here), false);
  assert.equal(pushes.accept({ ...ready, position: { line: 3, character: 8 } }, here), false);
  assert.equal(pushes.accept({ ...ready, uri: 'file:///work/other.py' }, here), false);
  assert.equal(pushes.take(here), false);
});

test('no editor, a selection (no spot) or malformed params are ignored', () => {
  const pushes = new ReadyPushes();
  assert.equal(pushes.accept(ready, undefined), false);
  assert.equal(pushes.accept({ uri, version: '7', position: { line: 2, character: 8 } }, here), false);
  assert.equal(pushes.accept({ uri, version: 7 }, here), false);
  assert.equal(pushes.accept(null, here), false);
});

test('a request elsewhere does not use up the pending notification', () => {
  const pushes = new ReadyPushes();
  pushes.accept(ready, here);
  assert.equal(pushes.take({ ...here, version: 8 }), false);
  assert.equal(pushes.take(here), true);
});
