package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Reconnect links let someone who is not the console's admin run "Get
// authorization token" for one token: the admin creates a link, sends it,
// and whoever opens it signs in at the provider. The link's secret is 32
// random bytes, shown once; the store keeps only its SHA-256, as the key of
// an authenticated record (record.go), so neither the file nor a backup can
// be turned back into a working link, and a record edited without the
// master key (to point a link at another token, or extend it) is refused.
//
// A link is used up when an authorization through it completes; a sign-in
// that fails or is abandoned leaves it usable until it expires, so the
// person can try again.

const (
	spaceLinks = "links"
	kindLink   = "reconnect link"
)

// Limits of reconnect links.
const (
	// DefaultReconnectTTL is how long a link lasts when no expiry is given.
	DefaultReconnectTTL = 24 * time.Hour
	// MaxReconnectTTL is the longest a link may last.
	MaxReconnectTTL = 7 * 24 * time.Hour
	// MinReconnectTTL is the shortest: long enough to send it and sign in.
	MinReconnectTTL = 5 * time.Minute
	// MaxReconnectLinks bounds the usable links of one token.
	MaxReconnectLinks = 10
	// MaxReconnectStarts bounds the sign-ins one link may start, so that
	// its holder cannot crowd out the console's other authorizations.
	MaxReconnectStarts = 20
	// reconnectKeep is how long a link that ended stays listed, as a
	// record of its use.
	reconnectKeep = 30 * 24 * time.Hour
	// reconnectSecretSize is the secret's length in bytes.
	reconnectSecretSize = 32
	// ReconnectIDLen is the length of a link's ID: the first hex digits of
	// its hash, which name it in lists and to --revoke.
	ReconnectIDLen = 12
)

// Why a reconnect link cannot be used. Errors from ClaimReconnect and
// StartReconnect wrap one of them (or ErrNotFound).
var (
	ErrLinkExpired = errors.New("reconnect link expired")
	ErrLinkUsed    = errors.New("reconnect link already used")
	ErrLinkRevoked = errors.New("reconnect link revoked")
	// ErrLinkTokenChanged: the link's token can no longer be authorized
	// (made static, or its provider removed or without a sign-in).
	ErrLinkTokenChanged = errors.New("reconnect link's token can no longer be signed in")
	// ErrLinkOverused: the link started MaxReconnectStarts sign-ins.
	ErrLinkOverused = errors.New("reconnect link started too many sign-ins")
)

// ReconnectLink is a stored reconnect link: never its secret, only the
// secret's hash.
type ReconnectLink struct {
	Hash          string    `json:"hash"`  // hex SHA-256 of the secret; the record's key
	Token         string    `json:"token"` // the one token it authorizes
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
	CreatedBy     string    `json:"createdBy"`               // who made it, in words ("command line (ops)", "console session 1a2b3c4d")
	Started       int       `json:"started,omitempty"`       // sign-ins started with it
	LastStarted   time.Time `json:"lastStarted,omitzero"`    // when the last one started
	Used          time.Time `json:"used,omitzero"`           // when an authorization through it completed
	UsedFrom      string    `json:"usedFrom,omitempty"`      // the address it completed from
	Revoked       time.Time `json:"revoked,omitzero"`        // when the admin revoked it
	RevokedBy     string    `json:"revokedBy,omitempty"`     // who revoked it
	ProviderLabel string    `json:"providerLabel,omitempty"` // the provider's description when made
	ProviderRef   string    `json:"providerRef,omitempty"`   // the provider's name when made
}

// ID names the link in lists and to revoke it: the start of its hash,
// which says nothing of the secret.
func (l ReconnectLink) ID() string { return l.Hash[:min(len(l.Hash), ReconnectIDLen)] }

// State is the link's state at now: "usable", "used", "revoked" or
// "expired".
func (l ReconnectLink) State(now time.Time) string {
	switch {
	case !l.Revoked.IsZero():
		return "revoked"
	case !l.Used.IsZero():
		return "used"
	case !now.Before(l.Expires):
		return "expired"
	}
	return "usable"
}

// Check returns nil when the link can be used at now, else an error
// wrapping ErrLinkRevoked, ErrLinkUsed or ErrLinkExpired.
func (l ReconnectLink) Check(now time.Time) error {
	switch l.State(now) {
	case "revoked":
		return fmt.Errorf("%w by the admin", ErrLinkRevoked)
	case "used":
		return fmt.Errorf("%w: the token was authorized with it", ErrLinkUsed)
	case "expired":
		return fmt.Errorf("%w at %s", ErrLinkExpired, l.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// ended is when the link stopped being usable, for pruning.
func (l ReconnectLink) ended() time.Time {
	switch {
	case !l.Revoked.IsZero():
		return l.Revoked
	case !l.Used.IsZero():
		return l.Used
	}
	return l.Expires
}

// ReconnectHash returns the stored hash of a link's secret, or ok false
// when secret is not one this store could have made (wrong length or
// alphabet): such a link is not looked up at all.
func ReconnectHash(secret string) (hash string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != reconnectSecretSize {
		return "", false
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), true
}

// CheckReconnectTTL refuses a link lifetime outside MinReconnectTTL and
// MaxReconnectTTL.
func CheckReconnectTTL(ttl time.Duration) error {
	if ttl < MinReconnectTTL || ttl > MaxReconnectTTL {
		return fmt.Errorf("a reconnect link lasts from %s to %s (7 days), not %s: choose an expiry in that range", MinReconnectTTL, "168h", ttl)
	}
	return nil
}

// CreateReconnectLink makes a link for the named oauth2 token that lasts
// ttl, and returns its secret (to be shown once, never stored) with the
// stored link. The token must exist and have an authorization step; a token
// may have at most MaxReconnectLinks usable links. Links of the token that
// ended more than 30 days ago are removed meanwhile.
func (tx *Tx) CreateReconnectLink(token string, ttl time.Duration, createdBy string) (string, ReconnectLink, error) {
	if err := CheckReconnectTTL(ttl); err != nil {
		return "", ReconnectLink{}, err
	}
	t, p, err := tx.TokenWithProvider(token)
	if err != nil {
		return "", ReconnectLink{}, err
	}
	if err := reconnectable(t, p); err != nil {
		return "", ReconnectLink{}, err
	}
	now := tx.db.now().UTC()
	links, err := tx.ReconnectLinks(token)
	if _, other := DamagedRecords(err); other != nil {
		return "", ReconnectLink{}, other // damaged links are refused anyway
	}
	if err := tx.pruneLinks(links, now); err != nil {
		return "", ReconnectLink{}, err
	}
	if n := usableLinks(links, now); n >= MaxReconnectLinks {
		return "", ReconnectLink{}, fmt.Errorf("token %q already has %d usable reconnect links: revoke some first (`scriptrun token link %s --list`)", token, n, token)
	}
	raw := make([]byte, reconnectSecretSize)
	rand.Read(raw) // crypto/rand does not fail on supported systems
	secret := base64.RawURLEncoding.EncodeToString(raw)
	hash, _ := ReconnectHash(secret)
	l := ReconnectLink{Hash: hash, Token: token, Created: now, Expires: now.Add(ttl), CreatedBy: createdBy,
		ProviderRef: p.Name, ProviderLabel: p.Description}
	if err := tx.putRecord(spaceLinks, kindLink, hash, l); err != nil {
		return "", ReconnectLink{}, err
	}
	return secret, l, nil
}

// reconnectable says why a token cannot have reconnect links: only an
// oauth2 token whose provider has an authorization step can.
func reconnectable(t Token, p *Provider) error {
	switch {
	case t.Static():
		return fmt.Errorf("token %q is of type %s, which has no sign-in at a provider: a reconnect link is for oauth2 tokens", t.Name, t.Type)
	case p == nil:
		return fmt.Errorf("token %q: its provider %q does not exist: add it before making a reconnect link", t.Name, t.Provider)
	case p.GrantType != GrantAuthorizationCode:
		return fmt.Errorf("token %q: provider %q uses the %s grant, which has no sign-in: a reconnect link is for authorization_code providers", t.Name, p.Name, p.GrantType)
	}
	return nil
}

func usableLinks(links []ReconnectLink, now time.Time) int {
	n := 0
	for _, l := range links {
		if l.Check(now) == nil {
			n++
		}
	}
	return n
}

// pruneLinks removes links that ended more than reconnectKeep ago.
func (tx *Tx) pruneLinks(links []ReconnectLink, now time.Time) error {
	for _, l := range links {
		if l.Check(now) != nil && now.Sub(l.ended()) > reconnectKeep {
			if err := tx.kv.Delete(key(spaceLinks, l.Hash)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReconnectLink returns the link whose secret is secret, usable or not, or
// an error wrapping ErrNotFound. A secret of the wrong shape is not looked
// up.
func (tx *Tx) ReconnectLink(secret string) (ReconnectLink, error) {
	hash, ok := ReconnectHash(secret)
	if !ok {
		return ReconnectLink{}, fmt.Errorf("reconnect link %w", ErrNotFound)
	}
	return tx.linkByHash(hash)
}

func (tx *Tx) linkByHash(hash string) (ReconnectLink, error) {
	v, err := tx.kv.Get(key(spaceLinks, hash))
	if err != nil {
		return ReconnectLink{}, tx.readError(kindLink, hash[:ReconnectIDLen], err)
	}
	if v == nil {
		return ReconnectLink{}, fmt.Errorf("reconnect link %w", ErrNotFound)
	}
	return tx.decodeLink(hash, v)
}

func (tx *Tx) decodeLink(hash string, v []byte) (ReconnectLink, error) {
	var l ReconnectLink
	if err := tx.getRecord(kindLink, []byte(hash), hash[:min(len(hash), ReconnectIDLen)], v, &l); err != nil {
		return ReconnectLink{}, err
	}
	if l.Hash != hash {
		return ReconnectLink{}, tx.recordError(kindLink, l.ID(), errUnreadable)
	}
	return l, nil
}

// ReconnectLinks returns the links of the named token (every state),
// newest first. Damaged links are left out and reported as DamagedRecords
// reports them; an empty token name lists every token's links.
func (tx *Tx) ReconnectLinks(token string) ([]ReconnectLink, error) {
	var out []ReconnectLink
	var damaged []error
	err := tx.kv.List(key(spaceLinks, ""), func(k string, v []byte) error {
		l, err := tx.decodeLink(k, v)
		if err != nil {
			if asRecordError(err, &damaged) {
				return nil
			}
			return err
		}
		if token == "" || l.Token == token {
			out = append(out, l)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b ReconnectLink) int { return b.Created.Compare(a.Created) })
	if err != nil {
		return out, err
	}
	return out, listDamaged(damaged)
}

// RevokeReconnectLinks revokes the named token's usable links whose ID
// starts with id (at least 6 hex digits), or all of them when id is "all",
// and returns those it revoked. None matching is an error wrapping
// ErrNotFound.
func (tx *Tx) RevokeReconnectLinks(token, id, by string) ([]ReconnectLink, error) {
	id = strings.ToLower(id)
	if id != "all" && len(id) < 6 {
		return nil, fmt.Errorf("reconnect link ID %q is too short: give at least 6 characters of the ID `scriptrun token link %s --list` shows, or all", id, token)
	}
	links, err := tx.ReconnectLinks(token)
	if _, other := DamagedRecords(err); other != nil {
		return nil, other // damaged links are refused anyway
	}
	now := tx.db.now().UTC()
	var done []ReconnectLink
	for _, l := range links {
		if (id != "all" && !strings.HasPrefix(l.Hash, id)) || l.Check(now) != nil {
			continue
		}
		l.Revoked, l.RevokedBy = now, by
		if err := tx.putRecord(spaceLinks, kindLink, l.Hash, l); err != nil {
			return nil, err
		}
		done = append(done, l)
	}
	if len(done) == 0 {
		what := "to revoke"
		if id != "all" {
			what = "with an ID starting with " + id + " (it may be used, expired or revoked already)"
		}
		return nil, fmt.Errorf("usable reconnect link of token %q %s %w: list them with `scriptrun token link %s --list`", token, what, ErrNotFound, token)
	}
	return done, nil
}

// StartReconnect records that a sign-in is starting through the link whose
// secret is secret, and returns the link. It fails, changing nothing, when
// the link is unknown (ErrNotFound) or cannot be used (Check); or when
// its token no longer exists, is not oauth2 or lost its provider.
func (tx *Tx) StartReconnect(secret string) (ReconnectLink, error) {
	l, _, err := tx.UsableReconnectLink(secret)
	if err != nil {
		return l, err
	}
	if l.Started >= MaxReconnectStarts {
		return l, fmt.Errorf("%w (%d): ask whoever sent it for a new one", ErrLinkOverused, l.Started)
	}
	l.Started++
	l.LastStarted = tx.db.now().UTC()
	return l, tx.putRecord(spaceLinks, kindLink, l.Hash, l)
}

// UsableReconnectLink returns the link whose secret is secret, with its
// token's provider, when it can be used now. It fails with an error
// wrapping ErrNotFound for an unknown link, the error of Check for one that
// ended, and ErrLinkTokenChanged when its token can no longer be signed
// in.
func (tx *Tx) UsableReconnectLink(secret string) (ReconnectLink, *Provider, error) {
	hash, ok := ReconnectHash(secret)
	if !ok {
		return ReconnectLink{}, nil, fmt.Errorf("reconnect link %w", ErrNotFound)
	}
	return tx.usableLink(hash)
}

// usableLink is UsableReconnectLink by the link's hash.
func (tx *Tx) usableLink(hash string) (ReconnectLink, *Provider, error) {
	l, err := tx.linkByHash(hash)
	if err != nil {
		return l, nil, err
	}
	if err := l.Check(tx.db.now()); err != nil {
		return l, nil, err
	}
	t, p, err := tx.TokenWithProvider(l.Token)
	if err != nil {
		return l, nil, err
	}
	if err := reconnectable(t, p); err != nil {
		return l, nil, fmt.Errorf("%w: %v", ErrLinkTokenChanged, err)
	}
	return l, p, nil
}

// ClaimReconnect marks the link whose hash (ReconnectLink.Hash) is hash as
// used, at now, from the address from, before the authorization it started
// is completed, so that two sign-ins racing through one link cannot both
// complete. It fails as StartReconnect does. When the completion fails,
// ReleaseReconnect makes the link usable again.
func (tx *Tx) ClaimReconnect(hash, from string) (ReconnectLink, error) {
	if len(hash) != 2*sha256.Size {
		return ReconnectLink{}, fmt.Errorf("reconnect link %w", ErrNotFound)
	}
	l, _, err := tx.usableLink(hash)
	if err != nil {
		return l, err
	}
	l.Used, l.UsedFrom = tx.db.now().UTC(), from
	return l, tx.putRecord(spaceLinks, kindLink, l.Hash, l)
}

// ReleaseReconnect undoes the ClaimReconnect that returned claimed, when
// the authorization it guarded failed: the link is usable again unless it
// was revoked meanwhile (or removed with its token).
func (tx *Tx) ReleaseReconnect(claimed ReconnectLink) error {
	l, err := tx.linkByHash(claimed.Hash)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || !l.Used.Equal(claimed.Used) {
		return err
	}
	l.Used, l.UsedFrom = time.Time{}, ""
	return tx.putRecord(spaceLinks, kindLink, l.Hash, l)
}

// deleteReconnectLinks removes every link of the named token, damaged ones
// aside (they name no token that can be trusted, and are refused anyway).
func (tx *Tx) deleteReconnectLinks(token string) error {
	links, err := tx.ReconnectLinks(token)
	if _, other := DamagedRecords(err); other != nil {
		return other
	}
	for _, l := range links {
		if err := tx.kv.Delete(key(spaceLinks, l.Hash)); err != nil {
			return err
		}
	}
	return nil
}
