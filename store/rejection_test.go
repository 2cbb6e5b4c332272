package store

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestRejectionValidate(t *testing.T) {
	long := `"code":"` + strings.Repeat("6", MaxRejectionPattern) + `"`
	tests := []struct {
		name   string
		r      Rejection
		fields []string // the fields refused, in order; none = valid
		want   string   // in the message
	}{
		{name: "default", r: Rejection{}},
		{name: "django", r: Rejection{Statuses: []int{401, 403}}},
		{name: "marketo", r: Rejection{BodyPattern: `"code"\s*:\s*"60[12]"`, BodyStatuses: []int{200}}},
		{name: "pattern on a 4xx", r: Rejection{Statuses: []int{401}, BodyPattern: `credentials were not provided`, BodyStatuses: []int{403}}},
		{name: "pattern, default body status", r: Rejection{BodyPattern: `"code":"601"`}},
		{name: "2xx alone", r: Rejection{Statuses: []int{200}}, fields: []string{RejectionStatuses}, want: "a 2xx answer can only refuse a token through a body pattern"},
		{name: "redirect", r: Rejection{Statuses: []int{302}}, fields: []string{RejectionStatuses}, want: "400 to 599"},
		{name: "repeated", r: Rejection{Statuses: []int{401, 401}}, fields: []string{RejectionStatuses}, want: "twice"},
		{name: "too many", r: Rejection{Statuses: []int{400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416}}, fields: []string{RejectionStatuses}, want: "at most 16"},
		{name: "body status 3xx", r: Rejection{BodyPattern: "x", BodyStatuses: []int{304}}, fields: []string{RejectionBodyStatuses}, want: "200 to 299 or 400 to 599"},
		{name: "body statuses without a pattern", r: Rejection{BodyStatuses: []int{200}}, fields: []string{RejectionBodyStatuses}, want: "no body pattern"},
		{name: "status in both lists", r: Rejection{Statuses: []int{401, 403}, BodyPattern: "x", BodyStatuses: []int{403}}, fields: []string{RejectionBodyStatuses}, want: "403 is also a rejected status"},
		{name: "default 401 in body statuses", r: Rejection{BodyPattern: "x", BodyStatuses: []int{401}}, fields: []string{RejectionBodyStatuses}, want: "401 is also"},
		{name: "bad regexp", r: Rejection{BodyPattern: `"code":"60[12"`}, fields: []string{RejectionBodyPattern}, want: "not a valid regular expression"},
		{name: "matches everything", r: Rejection{BodyPattern: `.*`}, fields: []string{RejectionBodyPattern}, want: "matches an empty body"},
		{name: "optional only", r: Rejection{BodyPattern: `(601)?`}, fields: []string{RejectionBodyPattern}, want: "matches an empty body"},
		{name: "too long", r: Rejection{BodyPattern: long}, fields: []string{RejectionBodyPattern}, want: "at most 256"},
		{name: "too large compiled", r: Rejection{BodyPattern: `[a-z]{1000}`}, fields: []string{RejectionBodyPattern}, want: "too complex"},
		{name: "costly repeat", r: Rejection{BodyPattern: `[a-z]{0,50}Q`}, fields: []string{RejectionBodyPattern}, want: "more than 100 instructions"},
		{name: "long literal", r: Rejection{BodyPattern: `"detail"\s*:\s*"Authentication credentials were not provided\."`, BodyStatuses: []int{403}}},
		{name: "every problem at once", r: Rejection{Statuses: []int{200}, BodyPattern: "(", BodyStatuses: []int{100}},
			fields: []string{RejectionStatuses, RejectionBodyStatuses, RejectionBodyPattern}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			var fields []string
			for _, fe := range AsFieldErrors(err) {
				fields = append(fields, fe.Field)
			}
			if !slices.Equal(fields, tt.fields) {
				t.Fatalf("Validate(%+v) refused %v (%v), want %v", tt.r, fields, err, tt.fields)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%+v) = %q, want it to say %q", tt.r, err, tt.want)
			}
		})
	}
}

func TestParseStatuses(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  string
	}{
		{"", nil, ""},
		{"401", []int{401}, ""},
		{"403,401", []int{401, 403}, ""},
		{" 401, 403 ,401", []int{401, 403}, ""},
		{"401 403", []int{401, 403}, ""},
		{"401;403", nil, `"401;403" is not an HTTP status code`},
		{"forbidden", nil, "not an HTTP status code"},
		{"4010", nil, "not an HTTP status code"},
	}
	for _, tt := range tests {
		got, err := ParseStatuses(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseStatuses(%q) = %v, %v; want an error saying %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("ParseStatuses(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if s := FormatStatuses([]int{401, 403}); s != "401,403" {
		t.Errorf("FormatStatuses = %q, want 401,403", s)
	}
}

// A provider's rejection is stored with it, refused when invalid, and left
// out of the record when it is the default (so records written before it
// existed read back the same).
func TestProviderRejectionStored(t *testing.T) {
	db := openTestDB(t)
	marketo := testProvider("marketo")
	marketo.Rejection = Rejection{Statuses: []int{401}, BodyPattern: `"code"\s*:\s*"60[12]"`, BodyStatuses: []int{200}}
	plain := testProvider("plain")
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(marketo); err != nil {
			return err
		}
		return tx.CreateProvider(plain)
	}))
	must(t, db.View(func(tx *Tx) error {
		got, err := tx.Provider("marketo")
		if err != nil {
			return err
		}
		if got.Rejection.BodyPattern != marketo.Rejection.BodyPattern || !slices.Equal(got.Rejection.BodyStatuses, []int{200}) || !slices.Equal(got.Rejection.Statuses, []int{401}) {
			t.Errorf("stored rejection = %+v, want %+v", got.Rejection, marketo.Rejection)
		}
		raw := tx.bolt().Bucket(bucketProviders).Get([]byte("plain"))
		if bytes.Contains(raw, []byte("rejection")) {
			t.Errorf("a provider with the default rejection stores the field: %s", raw)
		}
		return nil
	}))
	bad := testProvider("bad")
	bad.Rejection = Rejection{Statuses: []int{200}}
	err := db.Update(func(tx *Tx) error { return tx.CreateProvider(bad) })
	if es := AsFieldErrors(err); len(es) != 1 || es[0].Field != "rejection."+RejectionStatuses {
		t.Errorf("CreateProvider with rejected status 200: %v, want a field error on rejection.statuses", err)
	}
}

func TestParseProviderStatuses(t *testing.T) {
	tests := []struct {
		field, in string
		want      []int
		wantField string // of the error; "" for none
	}{
		{RejectionStatuses, "403,401", []int{401, 403}, ""},
		{RejectionStatuses, "forbidden", nil, "rejection.statuses"},
		{RejectionBodyStatuses, "200 x", nil, "rejection.bodyStatuses"},
	}
	for _, tt := range tests {
		got, fe := ParseProviderStatuses(tt.field, tt.in)
		switch {
		case tt.wantField == "" && (fe != nil || !slices.Equal(got, tt.want)):
			t.Errorf("ParseProviderStatuses(%s, %q) = %v, %v; want %v", tt.field, tt.in, got, fe, tt.want)
		case tt.wantField != "" && (fe == nil || fe.Field != tt.wantField || fe.Label == ""):
			t.Errorf("ParseProviderStatuses(%s, %q) error = %+v, want one on %s with a label", tt.field, tt.in, fe, tt.wantField)
		}
	}
}
