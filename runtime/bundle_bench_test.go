package runtime_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
)

// thousandLines is a TypeScript file of 1,000 lines: interfaces, classes,
// generics, async functions and template strings.
func thousandLines() string {
	var b strings.Builder
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < 1000; i++ {
		fmt.Fprintf(&b, "interface Item%d { id: number; name?: string }\n", i)
		fmt.Fprintf(&b, "export class Store%d<T extends Item%d> {\n", i, i)
		fmt.Fprintf(&b, "  private items: T[] = [];\n")
		fmt.Fprintf(&b, "  add(item: T): number { return this.items.push(item); }\n")
		fmt.Fprintf(&b, "  async find(id: number): Promise<T | undefined> {\n")
		fmt.Fprintf(&b, "    return this.items.find((x) => x.id === id) ?? undefined;\n")
		fmt.Fprintf(&b, "  }\n")
		fmt.Fprintf(&b, "}\n")
		fmt.Fprintf(&b, "const s%d = new Store%d<Item%d>(); s%d.add({ id: %d, name: `n${%d}` });\n", i, i, i, i, i, i)
		fmt.Fprintf(&b, "console.log(s%d.add({ id: %d }) as number);\n", i, i+1)
	}
	return b.String()
}

// BenchmarkBundleThousandLines is the first transform of a 1,000-line
// TypeScript file (no cache): the target is 50 ms.
func BenchmarkBundleThousandLines(b *testing.B) {
	dir := b.TempDir()
	main := writeFile(b, dir, "big.ts", thousandLines())
	for b.Loop() {
		if _, err := runtime.BundleScript(main, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBundleThousandLines checks that the big file bundles and runs.
func TestBundleThousandLines(t *testing.T) {
	dir := t.TempDir()
	s, err := runtime.CompileFile(writeFile(t, dir, "big.ts", thousandLines()), runtime.CompileOptions{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, s, t.Context(), runtime.Options{}); err != nil {
		t.Fatal(err)
	}
}
