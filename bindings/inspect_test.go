package bindings_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/bindings"
)

// The Inspect functions recognise the API's objects, and a response holds
// what the server sent, not the credential the signer set.
func TestInspect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Header.Get("Authorization"))
		w.Write([]byte("body"))
	}))
	defer srv.Close()
	vm := goja.New()
	signer := &fakeSigner{SignFn: func(_ context.Context, _ string, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer secret")
		return nil
	}}
	bindings.Enable(vm, &testHost{ctx: context.Background(), ch: make(chan func() error, 1)}, bindings.Options{Signer: signer})
	vm.Set("u", srv.URL)

	res, err := vm.RunString("http.get(u).apiTokenAuth('t').send()")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := bindings.InspectResponse(res)
	if !ok || r.Fetch || r.Status != 200 || string(r.Body) != "body" || r.Header.Get("X-Seen") != "Bearer secret" || r.Header.Get("Authorization") != "" {
		t.Errorf("InspectResponse: %+v, %v", r, ok)
	}

	sn, err := vm.RunString("var sm = new sn_ws.RESTMessageV2(); sm.setEndpoint(u); sm.setAuthenticationProfile('oauth2', 't'); sm.execute()")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := bindings.InspectResponse(sn); !ok || r.Status != 200 || string(r.Body) != "body" || r.Header.Get("Authorization") != "" {
		t.Errorf("InspectResponse of an sn_ws response: %+v, %v", r, ok)
	}

	req, _ := vm.RunString("http.post(u).apiTokenAuth('t').header('Accept', 'text/plain').json({a: 1}).timeout(250)")
	q, ok := bindings.InspectRequest(req)
	if !ok || q.Method != "POST" || q.Token != "t" || q.Timeout != 250 || q.BodyLen != 7 || q.Header.Get("Accept") != "text/plain" {
		t.Errorf("InspectRequest: %+v, %v", q, ok)
	}

	h, _ := vm.RunString("new Headers({'X-A': '1'})")
	if hd, ok := bindings.InspectHeaders(h); !ok || hd.Get("X-A") != "1" {
		t.Errorf("InspectHeaders: %v, %v", hd, ok)
	}

	for _, src := range []string{"({status: 200})", "[1, 2]", "'text'", "null", "(function () {})"} {
		v, err := vm.RunString(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := bindings.InspectResponse(v); ok {
			t.Errorf("InspectResponse(%s) = true", src)
		}
		if _, ok := bindings.InspectRequest(v); ok {
			t.Errorf("InspectRequest(%s) = true", src)
		}
		if _, ok := bindings.InspectHeaders(v); ok {
			t.Errorf("InspectHeaders(%s) = true", src)
		}
	}
}
