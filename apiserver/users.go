package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/logetl/logetl/apiserver/auth"
	"github.com/logetl/logetl/apiserver/forms"
	"github.com/logetl/logetl/apiserver/store"
	"github.com/logetl/logetl/internal/activitylog"
)

// userJSON is a user as the API shows it: never the password hash.
type userJSON struct {
	ID        uint64 `json:"id"`
	Email     string `json:"email"`
	Nickname  string `json:"nickname"`
	Name      string `json:"name"`
	Gender    string `json:"gender"`
	BirthDate string `json:"birth_date"`
	IsAdmin   bool   `json:"is_admin"`
	CreatedAt string `json:"created_at"`
}

// timeFormat is DRF's rendering of a UTC datetime: ISO 8601 with microseconds and Z.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

func toUserJSON(u store.User) userJSON {
	return userJSON{
		ID: u.ID, Email: u.Email, Nickname: u.Nickname, Name: u.Name, Gender: u.Gender,
		BirthDate: u.BirthDate.Format(time.DateOnly), IsAdmin: u.IsAdmin,
		CreatedAt: u.CreatedAt.UTC().Format(timeFormat),
	}
}

func (s *Server) isAdminEmail(email string) bool { return s.admins[strings.ToLower(email)] }

// signup: POST /user/signup/.
func (s *Server) signup(c *gin.Context) {
	body, err := s.jsonBody(c)
	if err != nil {
		s.fail(c, err, "signup")
		return
	}
	in, err := forms.DecodeSignup(body, time.Now())
	if err != nil {
		s.fail(c, err, "signup")
		return
	}
	hash, err := s.passwords.Hash(in.Password)
	if err != nil {
		s.fail(c, err, "signup")
		return
	}
	rec := s.record(c, activitylog.ActionUserSignup, http.StatusCreated, nil, "user signup success")
	u, err := s.store.CreateUser(c.Request.Context(), store.NewUser{
		Email: in.Email, Nickname: in.Nickname, Name: in.Name, Gender: in.Gender,
		BirthDate: in.BirthDate, PasswordHash: hash, IsAdmin: s.isAdminEmail(in.Email),
	}, rec)
	if err != nil {
		s.fail(c, err, "signup")
		return
	}
	c.JSON(http.StatusCreated, toUserJSON(u))
}

// login: POST /user/login/ answers {"email", "token": {...}} and sets the token cookies.
func (s *Server) login(c *gin.Context) {
	s.authenticatePassword(c, "user login", func(email string, pair auth.Pair) {
		s.setTokenCookies(c, pair)
		c.JSON(http.StatusOK, gin.H{"email": email, "token": pair})
	})
}

// obtainToken: POST /user/token/ (simplejwt's TokenObtainPairView) answers {"access", "refresh"}.
// It is a login like any other and is logged and rate limited as one.
func (s *Server) obtainToken(c *gin.Context) {
	s.authenticatePassword(c, "token obtain", func(_ string, pair auth.Pair) {
		c.JSON(http.StatusOK, pair)
	})
}

// authenticatePassword checks an email and password, rate limited per client IP and email. A
// failure writes a user.login_failed row (with the attempted email) and answers 401; a success
// writes user.login, grants admin to configured emails, and calls respond with fresh tokens.
func (s *Server) authenticatePassword(c *gin.Context, what string, respond func(email string, pair auth.Pair)) {
	body, err := s.jsonBody(c)
	if err != nil {
		s.fail(c, err, what)
		return
	}
	in, err := forms.DecodeCredentials(body)
	if err != nil {
		s.fail(c, err, what)
		return
	}
	if ok, wait := s.limiter.allow(c.ClientIP() + "\x00" + strings.ToLower(in.Email)); !ok {
		secs := int(wait/time.Second) + 1
		c.Header("Retry-After", strconv.Itoa(secs))
		detail(c, http.StatusTooManyRequests, fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs))
		return
	}
	ctx := c.Request.Context()
	u, err := s.store.UserByEmail(ctx, in.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(c, err, what)
		return
	}
	if !s.passwords.Check(u.PasswordHash, in.Password) { // an unknown user has an empty hash
		rec := s.record(c, activitylog.ActionUserLoginFailed, http.StatusUnauthorized, nil, what+" failed")
		rec.Email = &in.Email
		if err := s.store.AppendActivity(ctx, rec); err != nil {
			s.fail(c, err, what)
			return
		}
		detail(c, http.StatusUnauthorized, "No active account found with the given credentials")
		return
	}
	pair, err := s.tokens.Issue(u.ID)
	if err != nil {
		s.fail(c, err, what)
		return
	}
	rec := s.record(c, activitylog.ActionUserLogin, http.StatusOK, &u.ID, what+" success")
	if err := s.store.RecordLogin(ctx, u.ID, !u.IsAdmin && s.isAdminEmail(u.Email), rec); err != nil {
		s.fail(c, err, what)
		return
	}
	respond(u.Email, pair)
}

// setTokenCookies sets the access and refresh cookies, httponly so that scripts cannot read
// them, and SameSite=Lax so that another site cannot make a browser send them with a write.
func (s *Server) setTokenCookies(c *gin.Context, pair auth.Pair) {
	for _, ck := range []struct {
		name, value string
		ttl         time.Duration
	}{{"access", pair.Access, auth.AccessTTL}, {"refresh", pair.Refresh, auth.RefreshTTL}} {
		http.SetCookie(c.Writer, &http.Cookie{
			Name: ck.name, Value: ck.value, Path: "/", MaxAge: int(ck.ttl / time.Second),
			HttpOnly: true, Secure: s.secureCookies, SameSite: http.SameSiteLaxMode,
		})
	}
}

const msgTokenInvalid = "Token is invalid or expired"

// refreshToken: POST /user/token/refresh/ answers a new access token for a valid refresh token
// of a user that still exists.
func (s *Server) refreshToken(c *gin.Context) {
	body, err := s.jsonBody(c)
	if err != nil {
		s.fail(c, err, "token refresh")
		return
	}
	tok, err := forms.DecodeToken(body, "refresh")
	if err != nil {
		s.fail(c, err, "token refresh")
		return
	}
	claims, err := s.tokens.Parse(tok, auth.Refresh)
	if err != nil {
		s.log.DebugContext(c.Request.Context(), "refresh token refused", "request_id", c.GetString(requestIDKey), "reason", err)
		detail(c, http.StatusUnauthorized, msgTokenInvalid)
		return
	}
	access, err := s.tokens.IssueAccess(claims.UserID)
	if err != nil {
		s.fail(c, err, "token refresh")
		return
	}
	rec := s.record(c, activitylog.ActionTokenRefresh, http.StatusOK, &claims.UserID, "token refresh success")
	if err := s.store.RecordRefresh(c.Request.Context(), claims.UserID, rec); err != nil {
		s.fail(c, err, "token refresh")
		return
	}
	c.JSON(http.StatusOK, gin.H{"access": access})
}

// verifyToken: POST /user/token/verify/ answers {} for a valid token of either type.
func (s *Server) verifyToken(c *gin.Context) {
	body, err := s.jsonBody(c)
	if err != nil {
		s.fail(c, err, "token verify")
		return
	}
	tok, err := forms.DecodeToken(body, "token")
	if err != nil {
		s.fail(c, err, "token verify")
		return
	}
	if _, err := s.tokens.Parse(tok, ""); err != nil {
		detail(c, http.StatusUnauthorized, msgTokenInvalid)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// listUsers: GET /user/user_list/, admins only.
func (s *Server) listUsers(c *gin.Context) {
	if _, ok := s.requireAdmin(c); !ok {
		return
	}
	users, err := s.store.ListUsers(c.Request.Context())
	if err != nil {
		s.fail(c, err, "list users")
		return
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = toUserJSON(u)
	}
	c.JSON(http.StatusOK, out)
}

// withdraw: DELETE /user/{id}/withdraw/, by that user or an admin; the user's posts go with it.
func (s *Server) withdraw(c *gin.Context) {
	actor, target, ok := s.authenticateWithID(c)
	if !ok {
		return
	}
	// Someone else's account: only an admin may, and a non-admin learns nothing about whether
	// the account exists.
	if target != actor {
		if _, ok := s.requireAdminID(c, actor); !ok {
			return
		}
	}
	rec := s.record(c, activitylog.ActionUserWithdraw, http.StatusNoContent, &actor, "user withdraw success")
	if err := s.store.DeleteUser(c.Request.Context(), target, rec); err != nil {
		s.fail(c, err, "withdraw")
		return
	}
	c.Status(http.StatusNoContent)
}

// pathID parses the :id path parameter; anything but a positive integer is a 404, as Django's
// <int:pk> route would not have matched it.
func pathID(c *gin.Context) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		detail(c, http.StatusNotFound, msgNotFound)
		return 0, false
	}
	return id, true
}

// genderStats: GET /user/gender-stats/.
func (s *Server) genderStats(c *gin.Context) {
	male, female, err := s.store.GenderStats(c.Request.Context())
	if err != nil {
		s.fail(c, err, "gender stats")
		return
	}
	c.JSON(http.StatusOK, gin.H{"male_count": male, "female_count": female})
}

// birthStats: GET /user/birth-stats/, with the old service's Korean keys verbatim.
func (s *Server) birthStats(c *gin.Context) {
	millennial, genZ, alpha, err := s.store.BirthStats(c.Request.Context())
	if err != nil {
		s.fail(c, err, "birth stats")
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"밀레니얼세대(1981-95년생)": millennial,
		"Z세대(1996-2012년생)":  genZ,
		"알파세대(2013년생~)":     alpha,
	})
}
