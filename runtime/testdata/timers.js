// Timers, promises and async/await: what runs when.
const log = [];
setTimeout(() => log.push('timeout 20'), 20);
setTimeout((a, b) => log.push('timeout 0 ' + a + b), 0, 'x', 'y');
setImmediate(x => log.push('immediate ' + x), 'i');
Promise.resolve().then(() => log.push('microtask'));
(async () => {
  log.push('async start');
  await null;
  log.push('after await');
  await new Promise(resolve => setTimeout(resolve, 10));
  log.push('after sleep');
})();
const cancelled = setTimeout(() => log.push('cancelled timeout'), 5);
clearTimeout(cancelled);
const cancelledImmediate = setImmediate(() => log.push('cancelled immediate'));
clearImmediate(cancelledImmediate);
clearTimeout(undefined);
clearTimeout(42); // not a timer: ignored, as in Node
let n = 0;
const iv = setInterval(() => {
  log.push('tick ' + ++n);
  if (n === 3) clearInterval(iv);
}, 1);
log.push('sync end');

setTimeout(() => {
  assertEq(log.slice(0, 4), ['async start', 'sync end', 'microtask', 'after await'], 'synchronous code first, then microtasks');
  for (const want of ['timeout 0 xy', 'immediate i', 'tick 1', 'tick 2', 'tick 3', 'after sleep', 'timeout 20']) {
    assert(log.includes(want), want + ' ran: ' + JSON.stringify(log));
  }
  assert(log.indexOf('tick 1') < log.indexOf('tick 2') && log.indexOf('tick 2') < log.indexOf('tick 3'), 'ticks in order');
  assert(!log.includes('tick 4'), 'the interval stopped');
  assert(!log.includes('cancelled timeout') && !log.includes('cancelled immediate'), 'cleared callbacks did not run');
  assertEq(typeof setTimeout(() => {}, 0), 'object', 'setTimeout returns a timer');
  console.log('timers ok');
}, 80);
