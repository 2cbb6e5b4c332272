// performance.now (hr-time) and queueMicrotask (HTML §8.6).
const t0 = performance.now();
assert(typeof t0 === 'number' && t0 >= 0, 'now() is a non-negative number');
let t = t0;
for (let i = 0; i < 1000; i++) {
  const n = performance.now();
  assert(n >= t, 'now() never goes back');
  t = n;
}
let x = 0;
for (let i = 0; i < 1e5; i++) x += i;
assert(performance.now() > t0, 'time passes');
assert(Math.abs(performance.timeOrigin + performance.now() - Date.now()) < 1000, 'timeOrigin + now() is about Date.now()');
assertEq(Object.keys(performance.toJSON()), ['timeOrigin'], 'toJSON');

const order = [];
queueMicrotask(() => order.push('micro 1'));
Promise.resolve().then(() => order.push('promise'));
queueMicrotask(() => { order.push('micro 2'); queueMicrotask(() => order.push('nested')); });
order.push('sync');
await null;
await null;
await null;
assertEq(order, ['sync', 'micro 1', 'promise', 'micro 2', 'nested'], 'microtasks run in order, after the current task');
assertThrows(() => queueMicrotask('x'), 'TypeError', 'not a function');
let thisValue = 'unset';
queueMicrotask(function () { 'use strict'; thisValue = this; });
await null;
assertEq(thisValue, undefined, 'the callback gets undefined as this');
