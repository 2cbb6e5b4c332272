package replsrc_test

import (
	"errors"
	"fmt"

	"github.com/scriptrun/scriptrun/runtime/internal/replsrc"
)

// A const declaration becomes an assignment to a binding the caller defines
// first; the keyword's columns are kept.
func ExamplePrepare() {
	in, err := replsrc.Prepare("REPL1", "const x = 1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", in.Code)
	fmt.Printf("%+v void=%v\n", in.Decls, in.Void)
	// Output:
	// ";     x = 1;"
	// [{Name:x Kind:const Ready:false}] void=true
}

// Top-level await wraps the input in an async function that returns the
// value of its last expression; positions map back to the input as typed.
func ExamplePrepare_await() {
	in, err := replsrc.Prepare("REPL2", "let r = await f()\nr.x")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.Async, in.Decls[0].Name, in.Decls[0].Kind)
	fmt.Println(in.Code)
	line, col, text := in.Position(2, 9) // the r of "return (r.x)"
	fmt.Printf("%d:%d %s\n", line, col, text)
	// Output:
	// true r let
	// (async (__scriptrun_repl) => {;   r = await f();
	// return (r.x)
	// })
	// 2:1 r.x
}

func ExampleIncomplete() {
	fmt.Println(replsrc.Incomplete("if (x) {"), replsrc.Incomplete("x +"), replsrc.Incomplete("x + 1"))
	_, err := replsrc.Prepare("REPL3", "const r = await fetch(u, {")
	fmt.Println(errors.Is(err, replsrc.ErrIncomplete))
	// Output:
	// true true false
	// true
}
