// What a script can and cannot reach.
assertEq(typeof process, 'undefined', 'no process global');
assertEq(typeof globalThis.process, 'undefined', 'no process on globalThis');
assertEq(typeof new Function('return this')().process, 'undefined', 'no process via Function');
for (const name of ['env', 'Deno', 'Bun', 'Buffer', 'fs', 'module', 'exports', '__dirname']) {
  assertEq(typeof globalThis[name], 'undefined', name + ' is not a global');
}
for (const name of ['process', 'node:process', 'fs', 'node:fs', 'child_process', 'os', 'util', 'path', 'lodash', 'node_modules/x']) {
  let msg = '';
  try { require(name); } catch (e) { msg = e.message; }
  assert(msg.includes('require("' + name + '"): only "url", "buffer", "console" and files in the script\'s folder'), name + ' refused: ' + msg);
}
assertEq(typeof require('url').URL, 'function', 'require("url")');
assert(require('node:url').URLSearchParams === URLSearchParams, 'require("node:url") is the same module');
assert(require('console') === console, 'require("console") is the console');
const { Buffer } = require('buffer');
assertEq(Buffer.from('héllo').toString('base64'), 'aMOpbGxv', 'require("buffer").Buffer encodes');
assertEq(Buffer.from('aMOpbGxv', 'base64').toString(), 'héllo', 'and decodes');
assertEq(Buffer.from([0xde, 0xad]).toString('hex'), 'dead', 'hex');
assert(require('node:buffer').Buffer === Buffer, 'require("node:buffer") is the same module');
assertEq(typeof globalThis.Buffer, 'undefined', 'requiring buffer adds no global');
let msg = '';
try { require('./x.js'); } catch (e) { msg = e.message; }
assertEq(msg, 'require("./x.js"): this script was not loaded from a file, so it cannot require files', 'scripts from source cannot require files');
try { require(42); } catch (e) { msg = e.message; }
assert(msg.includes('name must be a string'), 'require(42): ' + msg);

assertEq(args, ['a', 'b c'], 'args');
assert(Array.isArray(args), 'args is an array');
assertEq(new URL('https://x.example/p?q=1').searchParams.get('q'), '1', 'URL');
assertEq(new URLSearchParams({ a: '1' }).toString(), 'a=1', 'URLSearchParams');
for (const g of ['http', 'fetch', 'Headers', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'console', 'require']) {
  assert(['function', 'object'].includes(typeof globalThis[g]), g + ' exists');
}
assertEq(setTimeout.name, 'setTimeout', 'timer functions have readable names');
console.log('sandbox ok');
