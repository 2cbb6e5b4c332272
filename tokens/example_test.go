package tokens_test

import (
	"sync"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Counting refreshes by outcome, as metrics do: OnEvent hears every
// outcome, client-credentials fetches included, with no log to parse.
func ExampleOptions_onEvent() {
	var db *store.DB // from store.Open
	var mu sync.Mutex
	outcomes := map[[2]string]int{} // token, "success" or "failure"
	count := func(ev tokens.Event) {
		switch ev.Kind {
		case tokens.EventRefreshed, tokens.EventFetched, tokens.EventRefreshFailed, tokens.EventFetchFailed, tokens.EventReauthRequired:
			result := "success"
			if ev.Failed() {
				result = "failure"
			}
			mu.Lock()
			outcomes[[2]string{ev.Token, result}]++
			mu.Unlock()
		}
	}
	m := tokens.New(tokens.Options{DB: db, OnEvent: count})
	defer m.Close()
}
