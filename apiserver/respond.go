package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/logetl/logetl/apiserver/auth"
	"github.com/logetl/logetl/apiserver/forms"
	"github.com/logetl/logetl/apiserver/store"
	"github.com/logetl/logetl/internal/activitylog"
)

// DRF's messages for authentication and permission failures.
const (
	msgNoCredentials = "Authentication credentials were not provided."
	msgBadToken      = "Given token not valid for any token type"
	msgUserGone      = "User not found"
	msgForbidden     = "You do not have permission to perform this action."
	msgNotFound      = "Not found."
)

// detail answers {"detail": msg}, DRF's shape for every error that is not a validation error.
func detail(c *gin.Context, status int, msg string) {
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="api"`)
	}
	c.AbortWithStatusJSON(status, gin.H{"detail": msg})
}

func tooLarge(c *gin.Context, limit int64) {
	detail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body is too large (limit %d bytes).", limit))
}

// fail answers err: body errors with 413, 415 or 400, validation errors with 400, store outcomes
// with their status, an unreachable database with 503, anything else with a logged 500. what
// says what was being done, for the log.
func (s *Server) fail(c *gin.Context, err error, what string) {
	var fieldErrs forms.Errors
	var parseErr *forms.ParseError
	var dup *store.DuplicateError
	var tooBig *http.MaxBytesError
	var mediaType *unsupportedMediaTypeError
	switch {
	case errors.As(err, &tooBig):
		tooLarge(c, s.maxBody)
	case errors.As(err, &mediaType):
		detail(c, http.StatusUnsupportedMediaType, mediaType.Error())
	case errors.Is(err, errUnreadableBody):
		detail(c, http.StatusBadRequest, "Could not read the request body.")
	case errors.As(err, &fieldErrs):
		c.AbortWithStatusJSON(http.StatusBadRequest, fieldErrs)
	case errors.As(err, &parseErr):
		detail(c, http.StatusBadRequest, parseErr.Error())
	case errors.As(err, &dup):
		errs := forms.Errors{}
		for _, f := range dup.Fields {
			errs.Add(f, fmt.Sprintf("user with this %s already exists.", f))
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, errs)
	case errors.Is(err, store.ErrNotFound):
		detail(c, http.StatusNotFound, msgNotFound)
	case errors.Is(err, store.ErrForbidden):
		detail(c, http.StatusForbidden, msgForbidden)
	case errors.Is(err, store.ErrUserGone):
		detail(c, http.StatusUnauthorized, msgUserGone)
	case errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil:
		// The client went away (or the server is being cut off): nobody reads this answer.
		detail(c, http.StatusServiceUnavailable, "The request was cancelled.")
	case store.Unavailable(err):
		s.log.WarnContext(c.Request.Context(), what+": database unavailable", "request_id", c.GetString(requestIDKey), "err", err)
		c.Header("Retry-After", "1")
		detail(c, http.StatusServiceUnavailable, "The database is unavailable; try again later.")
	default:
		s.log.ErrorContext(c.Request.Context(), what+" failed", "request_id", c.GetString(requestIDKey), "err", err)
		detail(c, http.StatusInternalServerError, "Internal server error.")
	}
}

// unsupportedMediaTypeError: a body not declared JSON. DRF answered it 415 with this message,
// quoting the Content-Type header as sent.
type unsupportedMediaTypeError struct{ contentType string }

func (e *unsupportedMediaTypeError) Error() string {
	return `Unsupported media type "` + e.contentType + `" in request.`
}

// errUnreadableBody: the body could not be read (the client went away, a broken chunked body).
var errUnreadableBody = errors.New("could not read the request body")

// jsonBody reads the request body within the size limit. A body that is not empty must be
// declared application/json: a text/plain, form or multipart POST is a CORS "simple request"
// that any web page can make a visitor's browser send, without a preflight, so accepting it
// would let foreign pages sign up or log in as the visitor. An empty body needs no type and
// decodes as an empty object, as in DRF (which parses nothing when there is no content). Every
// handler that reads a body reads it here; the error is for fail.
func (s *Server) jsonBody(c *gin.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, tooBig
		}
		return nil, fmt.Errorf("%w: %w", errUnreadableBody, err)
	}
	if ct := c.GetHeader("Content-Type"); len(b) > 0 && !jsonMediaType(ct) {
		return nil, &unsupportedMediaTypeError{contentType: ct}
	}
	return b, nil
}

// jsonMediaType reports whether a Content-Type header names JSON the way DRF's JSONParser
// matched it: the type before any parameters (charset=utf-8 and the like are accepted, and the
// body is read as UTF-8 whatever they say), case-insensitively, with DRF's wildcards (*/* and
// application/*, which no browser sends without a preflight). A missing header is "" and does
// not match. mime.ParseMediaType is stricter than DRF about parameters, so it is not used.
func jsonMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	main, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
	return (main == "application" || main == "*") && (sub == "json" || sub == "*")
}

// bearer returns the access token of the request: the Authorization header's Bearer token, or
// else the access cookie. present is false when the request carries neither.
func bearer(c *gin.Context) (token string, present bool) {
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), true
		}
	}
	if ck, err := c.Cookie("access"); err == nil && ck != "" {
		return ck, true
	}
	return "", false
}

// authenticate returns the id of the user the access token names; on failure it has answered
// 401. The user's existence is checked by the action itself (a withdrawn user's write fails).
func (s *Server) authenticate(c *gin.Context) (uint64, bool) {
	tok, present := bearer(c)
	if !present {
		detail(c, http.StatusUnauthorized, msgNoCredentials)
		return 0, false
	}
	claims, err := s.tokens.Parse(tok, auth.Access)
	if err != nil {
		s.log.DebugContext(c.Request.Context(), "token refused", "request_id", c.GetString(requestIDKey), "reason", err)
		detail(c, http.StatusUnauthorized, msgBadToken)
		return 0, false
	}
	return claims.UserID, true
}

// authenticateWithID authenticates the request, then parses its :id path parameter, so that
// every owner-only route answers an anonymous caller 401 whatever the id, as DRF checks
// authentication before it resolves the object. On failure it has answered.
func (s *Server) authenticateWithID(c *gin.Context) (user, id uint64, ok bool) {
	if user, ok = s.authenticate(c); ok {
		id, ok = pathID(c)
	}
	return user, id, ok
}

// requireAdmin authenticates the request and checks that its user is an admin, reading the flag
// from the database so that a grant or a withdrawal takes effect at once.
func (s *Server) requireAdmin(c *gin.Context) (store.User, bool) {
	id, ok := s.authenticate(c)
	if !ok {
		return store.User{}, false
	}
	return s.requireAdminID(c, id)
}

func (s *Server) requireAdminID(c *gin.Context, id uint64) (store.User, bool) {
	u, err := s.store.UserByID(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		detail(c, http.StatusUnauthorized, msgUserGone)
		return store.User{}, false
	}
	if err != nil {
		s.fail(c, err, "check admin")
		return store.User{}, false
	}
	if !u.IsAdmin {
		detail(c, http.StatusForbidden, msgForbidden)
		return store.User{}, false
	}
	return u, true
}

// record starts the activity_log row of the request's action: status is the one the response
// will carry, message a short text like the old service's ("POST content create success").
// Its values are the request's as received, whatever bytes they hold: the store escapes and
// bounds every one on its way into the table (store/logtext.go).
func (s *Server) record(c *gin.Context, action string, status int, user *uint64, message string) *activitylog.Record {
	return &activitylog.Record{
		RequestID: c.GetString(requestIDKey),
		UserID:    user,
		Action:    action,
		Method:    c.Request.Method,
		Route:     c.FullPath(),
		Path:      c.Request.URL.Path,
		Status:    status,
		ClientIP:  c.ClientIP(),
		UserAgent: c.Request.UserAgent(),
		Message:   c.Request.Method + " " + message,
	}
}
