package bindings

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// sameAsJSONParse checks that the fast parser gives what JSON.parse gives,
// compared through JSON.stringify (plus prototypes and -0), or falls back.
func sameAsJSONParse(t *testing.T, vm *goja.Runtime, input string) {
	t.Helper()
	stringify, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	check, _ := goja.AssertFunction(vm.Get("check"))
	want, werr := parse(goja.Undefined(), vm.ToValue(input))
	got, gerr := parseJSONFast(vm, []byte(input))
	if errors.Is(gerr, errJSONFallback) {
		return // JSON.parse decides; nothing to compare
	}
	if gerr != nil {
		t.Fatalf("fast parse of %q: unexpected error %v", input, gerr)
	}
	if werr != nil {
		t.Fatalf("fast parse accepted %q, which JSON.parse rejects (%v)", input, werr)
	}
	gs, _ := stringify(goja.Undefined(), got)
	ws, _ := stringify(goja.Undefined(), want)
	if gs.String() != ws.String() {
		t.Fatalf("input %q: fast %s, JSON.parse %s", input, gs, ws)
	}
	same, err := check(goja.Undefined(), got, want)
	if err != nil || !same.ToBoolean() {
		t.Fatalf("input %q: values differ in shape (types, -0, prototypes or own properties): %v", input, err)
	}
}

const checkJS = `
function check(a, b) {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b) || (isNaN(a) && isNaN(b));
  if (a === null || typeof a !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.getOwnPropertyNames(a), kb = Object.getOwnPropertyNames(b);
  if (ka.join('\u0000') !== kb.join('\u0000')) return false;
  return ka.every((k) => check(a[k], b[k]));
}`

func newCheckVM(t testing.TB) *goja.Runtime {
	vm := goja.New()
	if _, err := vm.RunString(checkJS); err != nil {
		t.Fatal(err)
	}
	return vm
}

func TestFastJSONMatchesJSONParse(t *testing.T) {
	vm := newCheckVM(t)
	for _, in := range []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e3`, `-12`, `9007199254740993`, `123456789012345678901234567890`,
		`1e400`, `"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u4e2d\ud83d\ude00"`, `"\ud800"`, `"caf\u00e9 ü 😀"`,
		` { "a" : [ 1 , 2 , { "b" : null } ] , "c" : "d" } `, `{"a":1,"a":2}`, `{"__proto__":{"x":1}}`,
		`{"constructor":1,"toString":"x"}`, `[[[[[]]]]]`, `{"":""}`, `{"1":1,"0":0}`,
		`["ab","a\u0062","ab","a\u0062",{"k":"ab"}]`, `["x\"y","x\"y","é","é"]`, `["1.5",1.5,"1.5",1.5,"-7",-7,1e2,"1e2",1e2]`,
		`[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `+1`, `"unterminated`, `"tab	in string"`, `tru`, `[1 2]`, `{"a" 1}`, `1 2`, ``,
	} {
		sameAsJSONParse(t, vm, in)
	}
}

// TestFastJSONInterning parses documents large enough for values to be
// interned, with strings and numbers written alike, escaped and not.
func TestFastJSONInterning(t *testing.T) {
	vm := newCheckVM(t)
	for _, record := range []string{
		`{"s":"ab","e":"a\u0062","n":1.5,"q":"1.5","i":-7,"qi":"-7","x":"x\"y","u":"é","f":2.25e1,"qf":"2.25e1"}`,
		`["open",1e2,"1e2",100,"100","` + strings.Repeat("long ", 30) + `",0.1,"0.1"]`,
		`[{"q":"x"},{"q":"x\\"},{"q":"x\""},{"q":"x\"\""},{"q":"x"},{"q":"x\\\""},{"q":"x\u0000"},{"q":"\\"},{"q":"\""}]`,
	} {
		doc := "[" + strings.Repeat(record+",", minInternDoc/len(record)+1) + record + "]"
		sameAsJSONParse(t, vm, doc)
	}
}

// pollutedJS gives Object.prototype a setter (which counts its calls), a
// read-only property and a getter for keys a document may have: JSON.parse
// defines own properties and neither calls the setter nor is refused.
const pollutedJS = `
var setterCalls = 0;
Object.defineProperty(Object.prototype, 'a', { set(v) { setterCalls++; }, get() { return 'inherited'; }, configurable: true });
Object.defineProperty(Object.prototype, 'status', { set(v) { setterCalls++; }, configurable: true });
Object.defineProperty(Object.prototype, 'ro', { value: 'inherited', writable: false, configurable: true });
Object.prototype.plain = 'inherited';`

func newPollutedVM(t testing.TB) *goja.Runtime {
	vm := newCheckVM(t)
	if _, err := vm.RunString(pollutedJS); err != nil {
		t.Fatal(err)
	}
	return vm
}

// TestFastJSONPollutedPrototype parses with properties on Object.prototype
// under the document's keys, as a script may have put there.
func TestFastJSONPollutedPrototype(t *testing.T) {
	vm := newPollutedVM(t)
	for _, in := range []string{
		`{"a":1}`, `{"status":"open","ro":2,"plain":3,"a":{"a":4}}`, `[{"ro":1},{"ro":2}]`,
		`{"a":1,"a":2}`, `{"__proto__":{"a":1},"constructor":5,"toString":6}`,
		"[" + strings.Repeat(`{"status":"open","a":1,"ro":true,"x":"y"},`, 200) + `{"status":"closed"}]`,
	} {
		sameAsJSONParse(t, vm, in)
	}
	if n := vm.Get("setterCalls").ToInteger(); n != 0 {
		t.Fatalf("the setter on Object.prototype was called %d times; JSON.parse defines own properties", n)
	}
}

// TestFastJSONFrozenPrototype parses with Object.prototype frozen, as a
// hardened script may leave it: its read-only members (toString,
// constructor, the __proto__ accessor) refuse assignment, and JSON.parse
// still defines the document's keys of those names as own properties.
func TestFastJSONFrozenPrototype(t *testing.T) {
	vm := newCheckVM(t)
	if _, err := vm.RunString(`Object.freeze(Object.prototype)`); err != nil {
		t.Fatal(err)
	}
	record := `{"toString":1,"constructor":{"name":"x"},"__proto__":{"a":1},"hasOwnProperty":null,"valueOf":"v","id":7}`
	for _, in := range []string{
		record, `[` + record + `,{"toString":2,"toString":3}]`,
		"[" + strings.Repeat(record+",", minInternDoc/len(record)+1) + record + "]",
	} {
		sameAsJSONParse(t, vm, in)
		got, err := parseJSONFast(vm, []byte(in))
		if err != nil {
			t.Fatalf("fast parse of %.40q: %v (the fast path should take a document with these keys)", in, err)
		}
		if got == nil {
			t.Fatalf("fast parse of %.40q gave no value", in)
		}
	}
}

// TestFastJSONShapes parses arrays of records whose keys change order, go
// missing, repeat and nest (deeper than the keys remembered by depth), and
// whose values change type under the same key: the guesses of the key that
// comes next and of the value a key had must never stand in for what is
// written.
func TestFastJSONShapes(t *testing.T) {
	vm := newCheckVM(t)
	deep := strings.Repeat(`{"a":`, 12) + `{"a":1,"b":2}` + strings.Repeat(`}`, 12)
	var b strings.Builder
	b.WriteString("[")
	for i := range 3000 {
		fmt.Fprintf(&b, `{"id":%d,"name":"n%d","kind":"%s","v":%s},`, i, i, []string{"a", "b", "c"}[i%3], []string{`"1.5"`, "1.5", `"x"`, "null", "2.5e1", `"2.5e1"`}[i%6])
	}
	b.WriteString(`{"id":"last"}]`)
	// Repeated, so that the document is large enough for keys and values
	// to be interned and guessed.
	large := func(doc string) string {
		return "[" + strings.Repeat(doc+",", minInternDoc/len(doc)+1) + doc + "]"
	}
	for _, in := range []string{
		large(`[{"a":1,"b":2},{"b":3,"a":4},{"a":5},{"b":6,"c":7,"a":8},{"a":9,"b":10,"a":11},{"ab":1,"b":2},{"a":{"a":{"b":1}},"b":{"b":2}}]`),
		large(`[` + deep + `,` + deep + `,` + strings.Replace(deep, `"b"`, `"c"`, 1) + `]`),
		large(`[{"k":"x"},{"k":"x\u0022"},{"k":"x"},{"k":"x\"y"},{"k":"x\"y"},{"k":1},{"k":"1"}]`),
		b.String(),
		"[" + strings.Repeat(`{"s":"same","t":"same","same":1.25,"n":"1.25"},`, 2000) + `{"s":"other","t":"same\n","same":"1.25","n":1.25}]`,
	} {
		sameAsJSONParse(t, vm, in)
	}
}

// TestFastJSONInternsAsWritten checks what interned relies on: only strings
// written without escapes are interned, so the bytes up to the next quote,
// escaped or not, of a string with escapes match none of them.
func TestFastJSONInternsAsWritten(t *testing.T) {
	doc := "[" + strings.Repeat(`"x\\","x\"","x\u0041","x\n","x","\\","\"",`, 200) + `"x"]`
	p := newFastJSON(goja.New(), []byte(doc))
	if _, err := p.value(nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.strs["x"]; !ok {
		t.Fatalf("the string x is not interned")
	}
	for raw, is := range p.strs {
		if strings.ContainsAny(raw, "\\\"\n") || is.v.String() != raw {
			t.Errorf("interned %q as %q: only strings written without escapes may be", raw, is.v.String())
		}
	}
}

func FuzzFastJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `"\ud83d\ude00"`, `-0`, `1e999`, `[{"__proto__":1}]`,
		`[{"status":"open","ro":1},{"ro":2,"status":"x"},{"plain":1}]`, `{"a":{"a":{"a":"a"}}}`,
		`[{"a":"x","b":1},{"b":"x","a":1}]`, `{"k":{"a":1},"l":{"b":"a"}}`, `[{"k":"a"},{"k":"b"}]`} {
		f.Add(s)
	}
	vm, polluted := newCheckVM(f), newPollutedVM(f)
	f.Fuzz(func(t *testing.T, in string) {
		docs := []string{in}
		if in != "" && len(in) < minInternDoc {
			// Also as records of a large document, which interns and
			// guesses keys and values.
			docs = append(docs, "["+strings.Repeat(in+",", minInternDoc/len(in))+in+"]")
		}
		for _, doc := range docs {
			sameAsJSONParse(t, vm, doc)
			sameAsJSONParse(t, polluted, doc)
			if n := polluted.Get("setterCalls").ToInteger(); n != 0 {
				t.Fatalf("input %q: the setter on Object.prototype was called %d times", doc, n)
			}
		}
	})
}

// BenchmarkJSONParse compares the fast path with goja's JSON.parse on an
// array of 5,000 records (about 1.3 MB).
func BenchmarkJSONParse(b *testing.B) {
	doc := []byte("[")
	for i := range 5000 {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, `{"id":1234,"name":"record","status":"open","tags":["a","b"],"owner":{"email":"user@example.com"},"score":12.5,"done":false}`...)
	}
	doc = append(doc, ']')
	vm := goja.New()
	parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	str := vm.ToValue(string(doc))
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := parseJSONFast(vm, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("JSON.parse", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := parse(goja.Undefined(), str); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestJSString checks that a string made by jsString is the JS string
// ToValue makes of the same text: equal, of the same length in UTF-16 code
// units, with the same code units.
func TestJSString(t *testing.T) {
	vm := goja.New()
	units, err := vm.RunString(`(s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i)).join(',')`)
	if err != nil {
		t.Fatal(err)
	}
	codeUnits, _ := goja.AssertFunction(units)
	for _, s := range []string{"", "a", "record 12345", strings.Repeat("x", 33), "café", "é", "中文", "😀 and text", strings.Repeat("ü", 40), "a\u0000b"} {
		got, want := jsString([]byte(s)), vm.ToValue(s)
		if !got.StrictEquals(want) {
			t.Errorf("jsString(%q) = %q, not === ToValue's %q", s, got, want)
		}
		gu, err1 := codeUnits(goja.Undefined(), got)
		wu, err2 := codeUnits(goja.Undefined(), want)
		if err1 != nil || err2 != nil || gu.String() != wu.String() {
			t.Errorf("jsString(%q): code units %v, want %v (%v, %v)", s, gu, wu, err1, err2)
		}
	}
}
