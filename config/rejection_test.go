package config

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

const rejectionSample = `
providers:
  - name: marketo
    clientId: app-1
    grantType: client_credentials
    tokenUrl: https://123-abc-456.mktorest.com/identity/oauth/token
    authStyle: body
    rejection:
      bodyPattern: '"code"\s*:\s*"60[12]"'
      bodyStatuses: [200]
  - name: django
    clientId: app-2
    authorizationUrl: https://django.example.com/o/authorize/
    tokenUrl: https://django.example.com/o/token/
    rejection:
      statuses: [401, 403]
`

// A provider's rejection is applied, exported and applied again unchanged,
// in YAML and JSON; dropping it from the file restores the default.
func TestRejectionRoundTrip(t *testing.T) {
	src := newDB(t)
	apply(t, src, rejectionSample, Options{})
	want := map[string]store.Rejection{
		"marketo": {BodyPattern: `"code"\s*:\s*"60[12]"`, BodyStatuses: []int{200}},
		"django":  {Statuses: []int{401, 403}},
	}
	src.View(func(tx *store.Tx) error {
		for name, w := range want {
			p, err := tx.Provider(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Rejection; !slices.Equal(got.Statuses, w.Statuses) || got.BodyPattern != w.BodyPattern || !slices.Equal(got.BodyStatuses, w.BodyStatuses) {
				t.Errorf("%s: stored rejection %+v, want %+v", name, got, w)
			}
		}
		return nil
	})
	f, err := Read(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"yaml", "json"} {
		var out bytes.Buffer
		if err := Write(&out, f, format); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "bodyPattern") || !strings.Contains(out.String(), "403") {
			t.Errorf("%s export lacks the rejections:\n%s", format, out.String())
		}
		checkReapply(t, f, format, out.String(), Options{})
	}
	plain := strings.Replace(rejectionSample, "    rejection:\n      statuses: [401, 403]\n", "", 1)
	if plan := planText(apply(t, src, plain, Options{})); plan != "update provider django (rejection)" {
		t.Errorf("dropping django's rejection from the file: plan %q, want an update of its rejection", plan)
	}
	src.View(func(tx *store.Tx) error {
		if p, _ := tx.Provider("django"); !p.Rejection.IsZero() {
			t.Errorf("after dropping it from the file, django's rejection is %+v, want the default", p.Rejection)
		}
		return nil
	})
}

// Each problem of a rejection is reported on its own field's line and path.
func TestRejectionErrors(t *testing.T) {
	data := `providers:
  - name: p
    clientId: c
    authorizationUrl: https://a.example.com/a
    tokenUrl: https://a.example.com/t
    rejection:
      statuses: [200]
      bodyPattern: '.*'
`
	_, err := Apply(newDB(t), []byte(data), Options{Getenv: func(string) string { return "" }})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Apply: %v, want Errors", err)
	}
	want := []Error{
		{Line: 7, Path: "providers[0].rejection.statuses"},
		{Line: 8, Path: "providers[0].rejection.bodyPattern"},
	}
	if len(es) != len(want) {
		t.Fatalf("Apply: %v; want %d errors", err, len(want))
	}
	for i, w := range want {
		if es[i].Line != w.Line || es[i].Path != w.Path {
			t.Errorf("error %d: line %d, %s (%s); want line %d, %s", i, es[i].Line, es[i].Path, es[i].Msg, w.Line, w.Path)
		}
	}
}
