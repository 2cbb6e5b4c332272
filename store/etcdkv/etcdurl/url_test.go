package etcdurl

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr string
	}{
		{in: "etcd://h1:2379", want: Target{[]string{"h1:2379"}, "/scriptrun/"}},
		{in: "etcd://h1", want: Target{[]string{"h1:2379"}, "/scriptrun/"}},
		{in: "ETCD://h1:1/", want: Target{[]string{"h1:1"}, "/scriptrun/"}},
		{in: "etcd://h1:2379,h2:2380,10.0.0.3/team-a", want: Target{[]string{"h1:2379", "h2:2380", "10.0.0.3:2379"}, "/team-a/"}},
		{in: "etcd://[::1]:2379/a/b/", want: Target{[]string{"[::1]:2379"}, "/a/b/"}},
		{in: "etcd://[::1]", want: Target{[]string{"[::1]:2379"}, "/scriptrun/"}},
		{in: "http://h1:2379", wantErr: "want etcd://"},
		{in: "etcd://", wantErr: "names no host"},
		{in: "etcd:///x", wantErr: "names no host"},
		{in: "etcd://h1,,h2", wantErr: "empty host"},
		{in: "etcd://user:pw@h1", wantErr: "SCRIPTRUN_ETCD_USERNAME"},
		{in: "etcd://h1:0", wantErr: "port must be"},
		{in: "etcd://h1:65536", wantErr: "port must be"},
		{in: "etcd://h1:x", wantErr: "port must be"},
		{in: "etcd://h1:", wantErr: "port must be"},
		{in: "etcd://::1", wantErr: "brackets"},
		{in: "etcd://[1.2.3.4]", wantErr: "IPv6"},
		{in: "etcd://[::1", wantErr: "unclosed"},
		{in: "etcd://h1:1,h1:1", wantErr: "twice"},
		{in: "etcd://h1/a//b", wantErr: "segment"},
		{in: "etcd://h1/a/../b", wantErr: "segment"},
		{in: "etcd://h1/a b", wantErr: "printable"},
		{in: "etcd://h1?x=1", wantErr: "query"},
		{in: "etcd://-bad-", wantErr: "not a host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParse checks that the parser never panics, that what it accepts is
// well formed, and that a parsed target's String parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"etcd://h1:2379", "etcd://a,b:1/p", "etcd://[::1]:2379/x/", "etcd://u@h", "etcd://h1/a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Parse(raw)
		if err != nil {
			// User information (which may hold a password) is never
			// echoed: the message for it quotes nothing of the URL.
			if len(raw) > 7 && strings.HasPrefix(strings.ToLower(raw), "etcd://") {
				hosts, _, _ := strings.Cut(raw[7:], "/")
				if strings.Contains(hosts, "@") && strings.Contains(err.Error(), hosts) {
					t.Fatalf("error echoes user information: %v", err)
				}
			}
			return
		}
		if len(got.Endpoints) == 0 || !strings.HasPrefix(got.Prefix, "/") || !strings.HasSuffix(got.Prefix, "/") {
			t.Fatalf("Parse(%q) = %+v: malformed target", raw, got)
		}
		again, err := Parse(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip of %q: %q gives %+v, %v", raw, got.String(), again, err)
		}
	})
}
