// crypto.randomUUID and crypto.getRandomValues (W3C WebCrypto §10).
const uuids = new Set();
for (let i = 0; i < 100; i++) {
  const u = crypto.randomUUID();
  assert(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u), 'a version 4 UUID: ' + u);
  uuids.add(u);
}
assertEq(uuids.size, 100, 'UUIDs do not repeat');

const a = new Uint8Array(64);
assert(crypto.getRandomValues(a) === a, 'getRandomValues returns its argument');
assert(a.some((b) => b !== 0), 'bytes were written');
const view = new Uint32Array(new ArrayBuffer(16), 4, 2);
crypto.getRandomValues(view);
assertEq(new Uint32Array(view.buffer, 0, 1)[0] + new Uint32Array(view.buffer, 12, 1)[0], 0, 'only the view is written');
for (const T of [Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, BigInt64Array, BigUint64Array]) {
  crypto.getRandomValues(new T(4));
}
crypto.getRandomValues(new Uint8Array(65536));
const q = assertThrows(() => crypto.getRandomValues(new Uint8Array(65537)), 'QuotaExceededError', '65537 bytes');
assertEq(q.code, 22, 'QuotaExceededError code');
assertThrows(() => crypto.getRandomValues(new Uint32Array(16385)), 'QuotaExceededError', 'quota counts bytes');
assertThrows(() => crypto.getRandomValues(new Float64Array(1)), 'TypeMismatchError', 'Float64Array');
assertThrows(() => crypto.getRandomValues(new Float32Array(1)), 'TypeMismatchError', 'Float32Array');
assertThrows(() => crypto.getRandomValues(new DataView(new ArrayBuffer(1))), 'TypeMismatchError', 'DataView');
assertThrows(() => crypto.getRandomValues([1, 2]), 'TypeError', 'an array');
assertThrows(() => crypto.getRandomValues(new ArrayBuffer(4)), 'TypeError', 'an ArrayBuffer');
assertThrows(() => crypto.getRandomValues(), 'TypeError', 'no argument');
assertEq(Object.prototype.toString.call(crypto), '[object Crypto]', 'toStringTag');
assertEq(Object.prototype.toString.call(crypto.subtle), '[object SubtleCrypto]', 'subtle toStringTag');
