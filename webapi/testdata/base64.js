// https://infra.spec.whatwg.org/#forgiving-base64 and the HTML spec's atob/btoa,
// with cases from web-platform-tests html/webappapis/atob/base64.any.js.
const decodes = [
  ['', ''],
  ['YQ', 'a'], ['YQ==', 'a'], ['YWI', 'ab'], ['YWI=', 'ab'], ['YWJj', 'abc'],
  [' Y Q = = ', 'a'], ['\tY\nW\fJ\rj', 'abc'], ['YQ==\n', 'a'],
  ['YR', 'a'],               // unused bits are discarded, not checked
  ['/w==', '\xff'], ['+/+/', '\xfb\xff\xbf'],
  ['AA==', '\0'],
];
for (const [input, want] of decodes) assertEq(atob(input), want, 'atob(' + JSON.stringify(input) + ')');
const invalid = [
  'Y', 'YQ=', 'YQ===', 'YQ=a', '=YQ', 'Y===', 'YWJjZ', 'YQ==YQ==', 'Y\u00a0Q', 'Y\vQ', '-_', 'YQ%3D', '\u2028', 'abc=d',
  undefined, // "undefined" has 9 characters
];
for (const input of invalid) {
  const e = assertThrows(() => atob(input), 'InvalidCharacterError', 'atob(' + JSON.stringify(input) + ')');
  assert(e instanceof DOMException && e.code === 5, 'atob error is a DOMException with code 5');
}
assertEq(atob(null), '\x9e\xe9e', 'atob(null) decodes the string "null"');
assertEq(atob(12), '\xd7', 'atob(12) decodes "12"');
assertThrows(() => atob(), 'TypeError', 'atob without an argument');

assertEq(btoa(''), '', 'btoa of empty');
assertEq(btoa('a'), 'YQ==', 'btoa pads');
assertEq(btoa('ab'), 'YWI=', 'btoa pads once');
assertEq(btoa('\xff\xfe\0'), '//4A', 'btoa of high Latin-1 and NUL');
assertEq(btoa(null), 'bnVsbA==', 'btoa(null) encodes "null"');
assertThrows(() => btoa('\u0100'), 'InvalidCharacterError', 'btoa above U+00FF');
assertThrows(() => btoa('€'), 'InvalidCharacterError', 'btoa of €');
assertThrows(() => btoa('\ud800'), 'InvalidCharacterError', 'btoa of a lone surrogate');
let all = '';
for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
assertEq(atob(btoa(all)), all, 'every byte round-trips');
assertEq(typeof atob, 'function', 'atob is a function');
assertEq(atob.length, 1, 'atob.length');
assert(!Object.keys(globalThis).includes('atob'), 'atob is not enumerable');
