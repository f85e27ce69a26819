// Package auth issues and checks the API's credentials: HS256 JWT access and refresh tokens
// (shaped like djangorestframework-simplejwt's, so old clients keep working), bcrypt password
// hashes, and the JWT signing secret's loading.
package auth

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Token lifetimes of the API contract.
const (
	AccessTTL  = 30 * time.Minute
	RefreshTTL = 7 * 24 * time.Hour
)

// TokenType is the token_type claim: it keeps a refresh token from being used as an access
// token and the other way round.
type TokenType string

// The two token types.
const (
	Access  TokenType = "access"
	Refresh TokenType = "refresh"
)

// issuer is checked on every token so that a token of another service signed with a reused
// secret is still refused.
const issuer = "logetl"

// ErrInvalidToken is returned for every token that must be refused: bad signature, wrong
// algorithm, expired, malformed, wrong type. The API answers it with 401.
var ErrInvalidToken = errors.New("token is invalid or expired")

// Claims are the claims of both token types.
type Claims struct {
	TokenType TokenType `json:"token_type"`
	UserID    uint64    `json:"user_id"`
	jwt.RegisteredClaims
}

// Pair is a fresh access and refresh token.
type Pair struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// Tokens signs and verifies tokens with one HS256 secret.
type Tokens struct {
	secret []byte
	now    func() time.Time
	parser *jwt.Parser
}

// NewTokens returns a Tokens signing with secret. now is the clock (nil: time.Now); tests pass
// their own to mint expired tokens.
func NewTokens(secret []byte, now func() time.Time) (*Tokens, error) {
	if len(secret) == 0 {
		return nil, errors.New("JWT secret is empty")
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{
		secret: secret,
		now:    now,
		// Only HS256 is accepted: this refuses alg "none" and every algorithm-confusion attack
		// (an RS256/ES256 token, or HS512 with a guessed key) before the signature is looked at.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(issuer),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// Issue returns a new access and refresh token for user.
func (t *Tokens) Issue(user uint64) (Pair, error) {
	access, err := t.sign(user, Access, AccessTTL)
	if err != nil {
		return Pair{}, err
	}
	refresh, err := t.sign(user, Refresh, RefreshTTL)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Access: access, Refresh: refresh}, nil
}

// IssueAccess returns a new access token for user.
func (t *Tokens) IssueAccess(user uint64) (string, error) {
	return t.sign(user, Access, AccessTTL)
}

func (t *Tokens) sign(user uint64, typ TokenType, ttl time.Duration) (string, error) {
	now := t.now()
	claims := Claims{
		TokenType: typ,
		UserID:    user,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   strconv.FormatUint(user, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        uuid.NewString(),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", typ, err)
	}
	return s, nil
}

// Parse verifies token and returns its claims. want is the required token type; "" accepts
// either (as /user/token/verify/ does). Every failure is ErrInvalidToken wrapped with the
// reason, which is safe to log: it never contains the token.
func (t *Tokens) Parse(token string, want TokenType) (Claims, error) {
	var c Claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	switch {
	case c.TokenType != Access && c.TokenType != Refresh:
		return Claims{}, fmt.Errorf("%w: unknown token type %q", ErrInvalidToken, c.TokenType)
	case want != "" && c.TokenType != want:
		return Claims{}, fmt.Errorf("%w: %s token used as %s token", ErrInvalidToken, c.TokenType, want)
	case c.UserID == 0 || c.Subject != strconv.FormatUint(c.UserID, 10):
		return Claims{}, fmt.Errorf("%w: no user", ErrInvalidToken)
	}
	return c, nil
}
