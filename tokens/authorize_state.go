package tokens

import (
	"encoding/json"
	"errors"
	"time"
)

// authorizationState is the stored form of an Authorization, verifier
// included.
type authorizationState struct {
	Token       string    `json:"token"`
	URL         string    `json:"url"`
	State       string    `json:"state"`
	RedirectURI string    `json:"redirectURI"`
	Created     time.Time `json:"created"`
	Verifier    string    `json:"verifier,omitempty"`
}

// MarshalBinary encodes the authorization with its PKCE verifier, so that a
// console can keep it in a store shared by several nodes until the callback
// arrives, perhaps at another node. The bytes hold the verifier, a secret:
// keep them sealed (store.Ephemeral seals what it keeps) and never log them.
func (a *Authorization) MarshalBinary() ([]byte, error) {
	return json.Marshal(authorizationState{
		Token: a.Token, URL: a.URL, State: a.State, RedirectURI: a.RedirectURI, Created: a.Created, Verifier: a.verifier,
	})
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (a *Authorization) UnmarshalBinary(b []byte) error {
	var st authorizationState
	if err := json.Unmarshal(b, &st); err != nil {
		// The bytes hold a verifier: the decoder's message could quote them.
		return errors.New("tokens: a stored authorization is unreadable")
	}
	if st.Token == "" || st.State == "" {
		return errors.New("tokens: a stored authorization names no token or state")
	}
	*a = Authorization{Token: st.Token, URL: st.URL, State: st.State, RedirectURI: st.RedirectURI, Created: st.Created, verifier: st.Verifier}
	return nil
}
