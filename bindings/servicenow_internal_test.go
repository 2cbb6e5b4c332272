package bindings

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// Which failures of execute() are a response with haveError() and which
// are thrown, as .send() throws them.
func TestSNTransactionFailure(t *testing.T) {
	live := context.Background()
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"connection refused", live, errorf(CodeNetwork, "x"), true},
		{"setHttpTimeout elapsed", live, errorf(CodeTimeout, "x"), true},
		{"wrapped", live, fmt.Errorf("send: %w", errorf(CodeNetwork, "x")), true},
		{"script stopping", stopped, errorf(CodeTimeout, "x"), false},
		{"script cancelled", stopped, errorf(CodeCancelled, "x"), false},
		{"token missing", live, errorf("TOKEN_NOT_FOUND", "x"), false},
		{"reauth required", live, errorf("REAUTH_REQUIRED", "x"), false},
		{"token host mismatch", live, errorf("TOKEN_HOST_MISMATCH", "x"), false},
		{"host header", live, errorf(CodeHostMismatch, "x"), false},
		{"body too large", live, errorf(CodeBodyTooLarge, "x"), false},
		{"sign failed", live, errorf(CodeSignFailed, "x"), false},
		{"internal", live, errorf(CodeInternal, "x"), false},
		{"uncoded", live, errors.New("x"), false},
	}
	for _, tt := range tests {
		if got := snTransactionFailure(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: snTransactionFailure = %v, want %v", tt.name, got, tt.want)
		}
	}
}
