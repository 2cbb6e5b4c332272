// AbortController and AbortSignal (DOM §3.1–3.2), apart from timers and
// requests, which the runtime's tests cover.
const c = new AbortController();
const s = c.signal;
assert(s === c.signal, 'the signal is the same object each time');
assertEq([s.aborted, s.reason], [false, undefined], 'a new signal');
assertEq(Object.prototype.toString.call(s), '[object AbortSignal]', 'toStringTag');
assertThrows(() => new AbortSignal(), 'TypeError', 'AbortSignal has no public constructor');
const order = [];
s.onabort = (e) => order.push('onabort ' + e.type + ' ' + (e.target === s));
const listener = (e) => order.push('listener');
s.addEventListener('abort', listener);
s.addEventListener('abort', listener); // duplicates are ignored
s.addEventListener('abort', () => order.push('once'), { once: true });
s.addEventListener('abort', { handleEvent: () => order.push('handleEvent') });
const removed = () => order.push('removed');
s.addEventListener('abort', removed);
s.removeEventListener('abort', removed);
s.throwIfAborted();
c.abort();
assertEq(order, ['onabort abort true', 'listener', 'once', 'handleEvent'], 'listeners run once, in order');
assert(s.aborted, 'aborted');
assert(s.reason instanceof DOMException && s.reason.name === 'AbortError' && s.reason.code === 20, 'default reason is an AbortError DOMException');
const first = s.reason;
c.abort('again');
assertEq(order.length, 4, 'a second abort does nothing');
assert(s.reason === first, 'and keeps the first reason');
assert(assertThrows(() => s.throwIfAborted(), 'AbortError', 'throwIfAborted') === first, 'throwIfAborted throws the reason');

const c2 = new AbortController();
const reason = { why: 'mine' };
c2.abort(reason);
assert(c2.signal.reason === reason, 'any value can be the reason');
let late = false;
c2.signal.addEventListener('abort', () => { late = true; });
assert(!late, 'listeners added after the abort never run');

const a = AbortSignal.abort();
assertEq([a.aborted, a.reason.name], [true, 'AbortError'], 'AbortSignal.abort()');
assertEq(AbortSignal.abort(0).reason, 0, 'AbortSignal.abort(reason)');

const x = new AbortController(), y = new AbortController();
const any = AbortSignal.any([x.signal, y.signal]);
assert(!any.aborted, 'any: none aborted');
y.abort('y');
assertEq([any.aborted, any.reason], [true, 'y'], 'any follows the first to abort');
assertEq(AbortSignal.any([AbortSignal.abort('z')]).reason, 'z', 'any of an aborted signal');

const t = AbortSignal.timeout(0);
assert(t instanceof AbortSignal && !t.aborted, 'a timeout signal aborts later, never at once');
assertThrows(() => AbortSignal.timeout(-1), 'TypeError', 'a negative timeout');
assertThrows(() => AbortSignal.timeout(NaN), 'TypeError', 'NaN');
assertThrows(() => Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted').get.call({}), 'TypeError', 'aborted on another object');

// A listener's exception does not stop the others, nor reach abort()'s caller.
const c3 = new AbortController();
let after = false;
c3.signal.addEventListener('abort', () => { throw new Error('listener failed'); });
c3.signal.addEventListener('abort', () => { after = true; });
c3.abort();
assert(after, 'the next listener still ran');
