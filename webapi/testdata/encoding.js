// https://encoding.spec.whatwg.org/ — TextEncoder and the UTF-8 decoder, with
// cases from web-platform-tests encoding/textdecoder-*.any.js.
const enc = new TextEncoder();
assertEq(enc.encoding, 'utf-8', 'TextEncoder.encoding');
assertEq(Array.from(enc.encode('a€😀')), [0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], 'encode ASCII, BMP, astral');
assertEq(Array.from(enc.encode('\ud800x\udc00')), [0xef, 0xbf, 0xbd, 0x78, 0xef, 0xbf, 0xbd], 'lone surrogates become U+FFFD');
assertEq(enc.encode().length, 0, 'encode() is empty');
assert(enc.encode('x') instanceof Uint8Array, 'encode returns a Uint8Array');
const dest = new Uint8Array(5);
assertEq(enc.encodeInto('a😀b', dest), { read: 3, written: 5 }, 'encodeInto counts UTF-16 units read');
assertEq(enc.encodeInto('😀', new Uint8Array(3)), { read: 0, written: 0 }, 'encodeInto never writes half a character');
assertThrows(() => enc.encodeInto('x', new Uint16Array(1)), 'TypeError', 'encodeInto needs a Uint8Array');
assertThrows(() => TextEncoder.prototype.encode.call({}, 'x'), 'TypeError', 'encode on another object');

const dec = (bytes, opts) => new TextDecoder('utf-8', opts).decode(new Uint8Array(bytes));
const fffd = '\ufffd';
const cases = [
  [[0x61, 0xc3, 0xa9], 'aé', 'two-byte'],
  [[0xf0, 0x9f, 0x98, 0x80], '😀', 'four-byte'],
  [[0xc0, 0x80], fffd + fffd, 'overlong NUL: each byte is an error'],
  [[0xe0, 0x80, 0x80], fffd + fffd + fffd, 'overlong three-byte'],
  [[0xf0, 0x80, 0x80, 0x80], fffd.repeat(4), 'overlong four-byte'],
  [[0xed, 0xa0, 0x80], fffd.repeat(3), 'encoded surrogate'],
  [[0xf4, 0x90, 0x80, 0x80], fffd.repeat(4), 'above U+10FFFF'],
  [[0xf0, 0x9f, 0x98], fffd, 'truncated four-byte at the end: one replacement'],
  [[0xf0, 0x9f, 0x98, 0x41], fffd + 'A', 'truncated sequence before ASCII: maximal subpart'],
  [[0xe2, 0x82, 0xe2, 0x82, 0xac], fffd + '€', 'truncated sequence before a complete one'],
  [[0x80], fffd, 'lone continuation byte'],
  [[0xff, 0xfe], fffd + fffd, 'bytes never in UTF-8'],
  [[0xef, 0xbb, 0xbf, 0x41], 'A', 'BOM is removed'],
  [[0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], '\ufeff', 'only the first BOM is removed'],
  [[0x41, 0xef, 0xbb, 0xbf], 'A\ufeff', 'a BOM later is kept'],
  [[0x00], '\0', 'NUL'],
];
for (const [bytes, want, what] of cases) assertEq(dec(bytes), want, what);
assertEq(dec([0xef, 0xbb, 0xbf, 0x41], { ignoreBOM: true }), '\ufeffA', 'ignoreBOM keeps the BOM');
for (const [bytes, want, what] of cases) {
  if (want.includes(fffd)) {
    assertThrows(() => dec(bytes, { fatal: true }), 'TypeError', 'fatal: ' + what);
  } else {
    assertEq(dec(bytes, { fatal: true }), want, 'fatal, valid: ' + what);
  }
}

// Streaming: a character split across chunks, at every split point.
const smile = [0xf0, 0x9f, 0x98, 0x80];
for (let i = 0; i <= 4; i++) {
  const d = new TextDecoder();
  const got = d.decode(new Uint8Array(smile.slice(0, i)), { stream: true }) + d.decode(new Uint8Array(smile.slice(i)));
  assertEq(got, '😀', 'split at ' + i);
}
{
  const d = new TextDecoder('utf-8', { fatal: true });
  assertEq(d.decode(new Uint8Array([0xe2, 0x82]), { stream: true }), '', 'fatal stream holds an incomplete sequence');
  assertThrows(() => d.decode(), 'TypeError', 'fatal: the stream ends inside a character');
  assertEq(d.decode(new Uint8Array([0x41])), 'A', 'the decoder starts afresh after the error');
}
{
  const d = new TextDecoder();
  assertEq(d.decode(new Uint8Array([0xef, 0xbb]), { stream: true }), '', 'a BOM split across chunks');
  assertEq(d.decode(new Uint8Array([0xbf, 0x41]), { stream: true }), 'A', 'is still removed');
  assertEq(d.decode(new Uint8Array([0xef, 0xbb, 0xbf])), '\ufeff', 'later in the same stream it is kept');
  assertEq(d.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x42])), 'B', 'a new stream removes it again');
  assertEq(d.decode(new Uint8Array([0xc3]), { stream: true }) + d.decode(), fffd, 'flush of an incomplete sequence');
}

// Inputs: ArrayBuffer, views with offsets, DataView.
const buf = new Uint8Array([0x78, 0x61, 0x62, 0x63, 0x78]).buffer;
assertEq(new TextDecoder().decode(buf), 'xabcx', 'ArrayBuffer');
assertEq(new TextDecoder().decode(new Uint8Array(buf, 1, 3)), 'abc', 'Uint8Array with an offset');
assertEq(new TextDecoder().decode(new DataView(buf, 1, 2)), 'ab', 'DataView');
assertEq(new TextDecoder().decode(new Uint16Array([0x6968])), 'hi', 'Uint16Array bytes');
assertEq(new TextDecoder().decode(), '', 'decode() is empty');
assertThrows(() => new TextDecoder().decode('abc'), 'TypeError', 'a string is not a BufferSource');

// Labels and properties.
for (const label of ['utf-8', 'UTF8', ' unicode-1-1-utf-8\n', 'x-unicode20utf8']) {
  assertEq(new TextDecoder(label).encoding, 'utf-8', 'label ' + JSON.stringify(label));
}
assertThrows(() => new TextDecoder('latin1'), 'RangeError', 'other encodings');
assertThrows(() => new TextDecoder('utf-16'), 'RangeError', 'utf-16');
const d = new TextDecoder(undefined, { fatal: 1, ignoreBOM: '' });
assertEq([d.fatal, d.ignoreBOM], [true, false], 'options are converted to booleans');
assertThrows(() => TextDecoder(), 'TypeError', 'TextDecoder without new');
assertEq(Object.prototype.toString.call(d), '[object TextDecoder]', 'toStringTag');
