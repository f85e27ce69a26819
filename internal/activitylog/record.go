// Package activitylog is the activity_log row as the API writes it: the record type and the
// action names. The pipeline reads the table through its spec (package logtable), like any other.
package activitylog

import "time"

// Action names of the rows the API writes.
const (
	ActionUserSignup      = "user.signup"
	ActionUserLogin       = "user.login"
	ActionUserLoginFailed = "user.login_failed"
	ActionUserWithdraw    = "user.withdraw"
	ActionPostCreate      = "post.create"
	ActionPostUpdate      = "post.update"
	ActionPostDelete      = "post.delete"
	ActionPostView        = "post.view"
	ActionTokenRefresh    = "token.refresh"
)

// Record is one row of activity_log, in clear. It never leaves MySQL in this form: the export
// pipeline pseudonymizes UserID and encrypts ClientIP, UserAgent and Email.
type Record struct {
	ID         uint64
	OccurredAt time.Time // UTC, microsecond precision
	RequestID  string
	UserID     *uint64 // nil for anonymous actions
	Action     string
	Method     string
	Route      string // route template, e.g. /blog/:id/
	Path       string // concrete path, e.g. /blog/42/
	Status     int
	PostID     *uint64
	ClientIP   string
	UserAgent  string
	Email      *string // the attempted email of a failed login; nil otherwise
	Message    string
}
