package notify

import (
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// The example of the Standard Webhooks specification's reference libraries.
func TestSignatureMatchesTheSpecificationExample(t *testing.T) {
	key, err := store.WebhookKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Signature = %s, want %s", got, want)
	}
}
