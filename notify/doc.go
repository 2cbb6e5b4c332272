// Package notify turns what happens to tokens and cron jobs into signed
// webhook deliveries, and delivers them.
//
// # Events
//
// Events are derived from the store, not from one process's memory: Check
// reads every token and job, compares each with its watch state (what was
// last seen of it, store.WatchState) and, when its condition changed,
// writes the new state and a delivery per interested notifier in the same
// transaction. Of a job it reads the name and only the runs after the last
// one its state has looked at (the newest 50 of them), so a check costs
// what happened since the previous one; its writes go in batches of at
// most 100 (etcd's operations per transaction), each change fenced on its
// own state. A token manager's events (TokenEvent) and a scheduler's
// finished runs (RunFinished) only make Check run soon; serve also runs it
// once a minute, which is what turns time into events:
//
//	token.reauth_required   the token's state is reauth_required (its refresh token is dead)
//	token.refresh_failing   still authorized, but its refreshes have failed for FailingAfter (15 min)
//	token.recovered         authorized again after either of those was announced
//	token.expiring          a static credential's --expires is within ExpiringWithin (7 days); once per expiry
//	cron.failed             a run failed or timed out after a success (once per episode, not every run)
//	cron.lost               a run was recorded as lost (each one; it starts an episode too)
//	cron.recovered          the first success after cron.failed or cron.lost
//
// Because the watch state and the deliveries change in one transaction,
// and an event's id is derived from what it is about (its type, the
// token or job, and the time or run that started the episode), several
// serve processes on one store announce each event once: the first to
// commit wins, the others find the state already changed (or, on an
// optimistic store, re-run and find it) and the delivery already there
// (CreateDelivery is create-only).
//
// # Deliveries
//
// A delivery follows the Standard Webhooks specification
// (https://www.standardwebhooks.com): a POST of the JSON body
// {"type", "timestamp", "data"} with the headers webhook-id (the event's
// id, the same on every attempt, for the receiver to de-duplicate),
// webhook-timestamp (Unix seconds of the attempt) and webhook-signature
// ("v1," and the base64 HMAC-SHA256, keyed with the base64-decoded part of
// the notifier's whsec_ secret, of id "." timestamp "." body). A 2xx answer
// delivers it; anything else is retried with exponential back-off and
// jitter (30 s doubling up to 1 h) until 24 h after the event, then the
// delivery is marked failed. 410 Gone disables the notifier, as the
// specification suggests. Redirects are not followed.
//
// Deliveries live in the store (an outbox), so a serve that restarts
// resumes them; each attempt is leased to one process (ClaimedBy,
// ClaimedUntil, set in a transaction) so that two never post the same
// attempt at once. The log keeps the last 1000 finished deliveries of at
// most 30 days.
//
// # What is sent
//
// Bodies carry names and states, never a secret: a token's name, type,
// provider, state and lastMessage (which the token manager builds from the
// provider's error code and description with every secret masked); a job's
// name, run id, status, trigger and times. A run's error and output are
// not sent: a script may print or throw anything it handles, so they are
// treated as possibly secret; the receiver links to the console for them.
//
// # Caveats
//
//   - Nothing is delivered while no serve runs; events are derived when one
//     starts again (a token that failed and recovered meanwhile goes
//     unannounced).
//   - A job seen for the first time only has its runs of the last 10
//     minutes considered, so that older history is not announced.
//   - A process that dies between posting and recording the answer leaves
//     the attempt leased; it is retried after the lease (1 min), so a
//     receiver may see an event twice: de-duplicate by webhook-id.
package notify
