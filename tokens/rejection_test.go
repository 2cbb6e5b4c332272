package tokens

import (
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// setRejection stores rule as the sandbox provider's and drops the cached
// token, so the next lookup reads it.
func (e *env) setRejection(t testing.TB, rule store.Rejection) {
	t.Helper()
	if err := e.db.Update(func(tx *store.Tx) error {
		p, err := tx.Provider("sandbox")
		if err != nil {
			return err
		}
		p.Rejection = rule
		return tx.PutProvider(p)
	}); err != nil {
		t.Fatal(err)
	}
	e.m.forget("api")
}

func TestRejects(t *testing.T) {
	marketo := `{"requestId":"e42b#14272d07d78","success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`
	ok := `{"requestId":"e42b#14272d07d78","result":[{"id":1}],"success":true}`
	late := strings.Repeat(" ", store.RejectionPeekBytes) + marketo // the code past the bytes searched
	django := store.Rejection{Statuses: []int{401, 403}}
	mkto := store.Rejection{BodyPattern: `"code"\s*:\s*"60[12]"`}
	detail := store.Rejection{BodyPattern: `credentials were not provided`, BodyStatuses: []int{403}}
	type ask struct {
		status   int
		body     *string // nil: the first question, without the body
		rejected bool
		peek     int
	}
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		rule store.Rejection
		asks []ask
	}{
		{"default", store.Rejection{}, []ask{
			{401, nil, true, 0}, {403, nil, false, 0}, {200, nil, false, 0}, {500, nil, false, 0},
			{200, str(marketo), false, 0}, // no pattern: the body is never looked at
		}},
		{"django", django, []ask{{401, nil, true, 0}, {403, nil, true, 0}, {404, nil, false, 0}, {200, nil, false, 0}}},
		{"marketo", mkto, []ask{
			{401, nil, true, 0}, // the default status stays
			{200, nil, false, store.RejectionPeekBytes},
			{200, str(marketo), true, 0},
			{200, str(strings.Replace(marketo, "601", "602", 1)), true, 0},
			{200, str(ok), false, 0},
			{200, str(""), false, 0},
			{200, str(late), false, 0},
			{201, nil, false, 0}, // only the statuses it names
			{403, nil, false, 0},
		}},
		{"pattern on a 403", detail, []ask{
			{401, nil, true, 0},
			{403, nil, false, store.RejectionPeekBytes},
			{403, str(`{"detail":"Authentication credentials were not provided."}`), true, 0},
			{403, str(`{"detail":"You do not have permission to perform this action."}`), false, 0},
			{200, nil, false, 0},
		}},
	}
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.setRejection(t, tt.rule)
			for _, a := range tt.asks {
				var body []byte
				what := "without the body"
				if a.body != nil {
					body, what = []byte(*a.body), "with "+shorten(*a.body, 40)
				}
				rejected, peek := e.m.Rejects("api", a.status, body)
				if rejected != a.rejected || peek != a.peek {
					t.Errorf("Rejects(%d, %s) = %v, %d; want %v, %d", a.status, what, rejected, peek, a.rejected, a.peek)
				}
			}
		})
	}
	t.Run("unknown token", func(t *testing.T) {
		if rejected, peek := e.m.Rejects("nope", 401, nil); !rejected || peek != 0 {
			t.Errorf("Rejects for a missing token = %v, %d; want the default rule (a 401 rejects)", rejected, peek)
		}
	})
}

// The default rule is the hot path of every signed response: no allocation.
func TestRejectsDefaultAllocatesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	e.m.Rejects("api", 200, nil) // fill the cache
	if n := testing.AllocsPerRun(100, func() { e.m.Rejects("api", 200, nil) }); n != 0 {
		t.Errorf("Rejects with the default rule allocates %.0f times per call, want 0", n)
	}
}

func BenchmarkRejects(b *testing.B) {
	body := []byte(`{"requestId":"e42b#14272d07d78","result":[{"id":1,"name":"a lead"}],"success":true}`)
	tests := []struct {
		name string
		rule store.Rejection
		body []byte
	}{
		{"default", store.Rejection{}, nil},
		{"pattern", store.Rejection{BodyPattern: `"code"\s*:\s*"60[12]"`}, body},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			e := newEnv(b, envOpts{})
			e.authorize(b, "api")
			e.setRejection(b, tt.rule)
			b.ReportAllocs()
			for b.Loop() {
				e.m.Rejects("api", 200, tt.body)
			}
		})
	}
}
