package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/scriptrun/scriptrun/sandbox"
	"golang.org/x/oauth2"
)

// The whole authorization-code flow with PKCE, unattended: SignIn fills in
// the login page, x/oauth2 exchanges the code, and the token calls the API.
func ExampleSignIn() {
	s, err := sandbox.Start(sandbox.Options{RequirePKCE: true})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	cfg := &oauth2.Config{
		ClientID:     s.ClientID(),
		ClientSecret: s.ClientSecret(),
		Endpoint:     s.Endpoint(),
		RedirectURL:  "http://127.0.0.1:1/callback", // nothing listens: SignIn's error is ignored below
		Scopes:       []string{"read"},
	}
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	back, _ := sandbox.SignIn(ctx, cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)), "demo", "demo")
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := cfg.Client(ctx, tok).Get(s.APIURL() + "/me")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(back.Query().Get("state"), tok.Extra("instance_url") == s.URL())
	fmt.Print(string(body))
	// Output:
	// state-1 true
	// {"client":"sandbox-client","scope":"read","user":"demo"}
}
