// Command scriptrun runs JavaScript integration scripts whose HTTP calls are
// signed with stored, self-refreshing OAuth2 credentials.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv))
}
