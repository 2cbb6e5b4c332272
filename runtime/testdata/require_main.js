// Run from a temporary folder built by TestRequire: args are
// [folder, absolute path of data.json, absolute path of ../secret.js].
const [folder, dataPath, secretPath] = args;
const lib = require('./lib');
assertEq(lib.add(2, 3), 5, 'require("./lib") loads lib/index.js');
assertEq(lib.helperName, 'helper', 'nested require relative to lib/');
assertEq(lib.file, 'lib/util.js', '__filename is relative to the script folder');
assert(require('./lib/util.js') === lib, 'modules are cached');
assertEq(require('./data.json'), { n: 42 }, 'JSON files');
assertEq(require('./data'), { n: 42 }, '.json is tried');
assertEq(require(dataPath), { n: 42 }, 'absolute paths inside the folder');
assertEq(require('./inlink.js').name, 'helper', 'links inside the folder');

const refused = [
  ['../secret.js', 'outside the script folder ' + folder + '; scripts may only require files in their own folder'],
  ['./lib/../../secret.js', 'outside the script folder'],
  [secretPath, 'outside the script folder'],
  ['./link.js', ['link.js is a link to', 'secret.js, outside the script folder']],
  ['./sub/secret.js', ['is a link to', 'outside the script folder']],
  ['./notes.txt', 'notes.txt is not a .js or .json file'],
  ['./nope.js', 'no such file in the script folder ' + folder],
  ['fs', 'only "url", "buffer", "console"'],
];
for (const [name, includes] of refused) {
  let msg = '';
  try { require(name); } catch (e) { msg = e.message; }
  for (const s of [].concat(includes)) {
    assert(msg.startsWith('require(' + JSON.stringify(name) + '): ') && msg.includes(s), name + ': ' + JSON.stringify(msg) + ' includes ' + JSON.stringify(s));
  }
}

let err;
try { require('./throws.js'); } catch (e) { err = e; }
assertEq(err && err.message, 'module failed', 'exceptions from a module propagate');
assert(err.stack.includes('throws.js:2:7'), 'module stack: ' + err.stack);
try { require('./syntax.js'); } catch (e) { err = e; }
assert(err.message.includes('require("./syntax.js"): syntax.js:3:') && err.message.includes('SyntaxError'), 'syntax error: ' + err.message);
console.log('require ok');
