// structuredClone (HTML §2.7 structured serialisation).
const d = new Date(1300819380000);
const src = {
  n: 1, s: 'x', b: true, u: undefined, nul: null, big: 10n, neg0: -0, nan: NaN,
  arr: [1, , 3], date: d, re: /a+/gi, map: new Map([[{ k: 1 }, 'v']]), set: new Set([1, 'a']),
  u8: new Uint8Array([1, 2, 3]), f64: new Float64Array([1.5]), ab: new Uint8Array([9]).buffer,
  wrapped: [Object(1), Object('s'), Object(false)],
  err: new RangeError('bad', { cause: 'why' }),
};
src.self = src;
src.shared = [src.u8, src.u8];
const c = structuredClone(src);
assert(c !== src && c.self === c, 'cycles are kept');
assert(c.shared[0] === c.shared[1] && c.shared[0] !== src.u8, 'shared references stay shared');
assertEq([c.n, c.s, c.b, c.nul, c.big === 10n, Object.is(c.neg0, -0), Number.isNaN(c.nan)], [1, 'x', true, null, true, true, true], 'primitives');
assert('u' in c && c.u === undefined, 'undefined members are kept');
assertEq([c.arr.length, 1 in c.arr], [3, false], 'holes stay holes');
assert(c.date instanceof Date && c.date !== d && c.date.getTime() === d.getTime(), 'Date');
assert(c.re instanceof RegExp && c.re.source === 'a+' && c.re.flags === 'gi', 'RegExp');
assert(c.map instanceof Map && [...c.map.keys()][0].k === 1 && [...c.map.values()][0] === 'v', 'Map');
assert(c.set instanceof Set && c.set.has('a') && c.set.size === 2, 'Set');
assert(c.u8 instanceof Uint8Array && c.u8.join() === '1,2,3' && c.u8.buffer !== src.u8.buffer, 'Uint8Array is copied');
assert(c.f64 instanceof Float64Array && c.f64[0] === 1.5, 'Float64Array');
assert(c.ab instanceof ArrayBuffer && new Uint8Array(c.ab)[0] === 9, 'ArrayBuffer');
assert(typeof c.wrapped[0] === 'object' && c.wrapped[0].valueOf() === 1 && c.wrapped[1].valueOf() === 's', 'primitive wrappers');
assert(c.err instanceof RangeError && c.err.message === 'bad' && c.err.cause === 'why', 'Error');
const view = new Uint8Array(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2);
const cv = structuredClone(view);
assertEq([cv.byteOffset, cv.length, cv.buffer.byteLength, Array.from(cv)], [1, 2, 4, [2, 3]], 'a view keeps its offset in a copy of the whole buffer');
const de = structuredClone(new DOMException('gone', 'AbortError'));
assert(de instanceof DOMException && de.name === 'AbortError' && de.message === 'gone' && de.code === 20, 'DOMException');
class Point { constructor() { this.x = 1; } get y() { return 2; } }
const p = structuredClone(new Point());
assertEq([Object.getPrototypeOf(p) === Object.prototype, p.x, p.y], [true, 1, undefined], 'class instances become plain objects');
assertEq(structuredClone('s'), 's', 'a primitive');
for (const [v, what] of [[() => 1, 'a function'], [{ f() {} }, 'a method'], [Symbol('s'), 'a symbol'], [Promise.resolve(), 'a promise'], [new WeakMap(), 'a WeakMap'], [new Proxy({}, {}), 'a proxy'], [new TextEncoder(), 'a platform object']]) {
  const e = assertThrows(() => structuredClone(v), 'DataCloneError', what);
  assert(e instanceof DOMException && e.code === 25, 'DataCloneError is a DOMException: ' + what);
}
assertThrows(() => structuredClone(), 'TypeError', 'no argument');
