package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// ErrNotFound is wrapped by errors for objects that do not exist.
var ErrNotFound = errors.New("object not found")

// ErrChanged is wrapped by errors of conditional requests whose condition failed: the object
// was replaced (If-Match) or already exists (If-None-Match). Retrying the same request cannot
// succeed; re-reading the object and deciding again can.
var ErrChanged = errors.New("object changed or already exists")

// ErrCredentials is wrapped by errors of requests S3 refused for who sent them: an access key it
// does not know, a secret that does not match, or an identity without the permission. Retrying
// cannot fix it; the credentials or the bucket policy must change.
var ErrCredentials = errors.New("S3 refused the credentials")

// credentialCodes name a refusal of the credentials, with what to check. XAdminUserNotFound is
// versitygw's answer to an unknown access key (with a 404, which must not read as a missing
// object or bucket).
var credentialCodes = map[string]string{
	"InvalidAccessKeyId":    "the access key is not known to the server: check AWS_ACCESS_KEY_ID (or the credentials the SDK finds: profile, instance role)",
	"XAdminUserNotFound":    "the access key is not known to the server: check AWS_ACCESS_KEY_ID (or the credentials the SDK finds: profile, instance role)",
	"SignatureDoesNotMatch": "the secret key does not match the access key: check AWS_SECRET_ACCESS_KEY",
	"AccessDenied":          "the identity lacks the permission: see deploy/README.md for the IAM policy logetl needs",
	"InvalidToken":          "the session token is invalid: refresh AWS_SESSION_TOKEN",
	"ExpiredToken":          "the session token expired: refresh the credentials",
}

// ErrConfig is wrapped by errors of an unusable configuration; it is permanent.
var ErrConfig = errors.New("invalid S3 configuration")

// Error is an S3 operation's failure, classified for retrying.
type Error struct {
	Op        string // e.g. "upload", "get"
	Key       string // object key, or "" for bucket operations
	Permanent bool   // retrying cannot fix it (missing bucket, denied access, bad configuration)
	Err       error
}

func (e *Error) Error() string {
	kind := "retryable"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Key == "" {
		return fmt.Sprintf("s3 %s (%s): %v", e.Op, kind, e.Err)
	}
	return fmt.Sprintf("s3 %s %s (%s): %v", e.Op, e.Key, kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err (or an error it wraps) is an S3 error that retrying cannot fix.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrConfig) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

func configError(msg string) error {
	return &Error{Op: "configure", Permanent: true, Err: fmt.Errorf("%w: %s", ErrConfig, msg)}
}

// permanentCodes are S3 error codes that no retry fixes: the bucket, the credentials or the
// request itself is wrong.
var permanentCodes = map[string]bool{
	"NoSuchBucket":                    true,
	"AllAccessDisabled":               true,
	"InvalidBucketName":               true,
	"AccountProblem":                  true,
	"InvalidArgument":                 true,
	"InvalidEncryptionAlgorithmError": true,
	"KMS.NotFoundException":           true,
	"KMS.DisabledException":           true,
	"NotImplemented":                  true,
}

// retryableCodes are 4xx codes that are transient in practice.
var retryableCodes = map[string]bool{
	"RequestTimeout":            true,
	"RequestTimeTooSkewed":      true,
	"BadDigest":                 true,
	"XAmzContentSHA256Mismatch": true,
	"InvalidPart":               true,
	"NoSuchUpload":              true,
	"SlowDown":                  true,
	"Throttling":                true,
	"ThrottlingException":       true,
	"TooManyRequests":           true,
	"RequestLimitExceeded":      true,
}

// classify wraps err as an *Error: network failures, timeouts, 5xx and throttling are
// retryable; known permanent codes and other 4xx responses are permanent. A missing object is
// reported as ErrNotFound (permanent for that key).
func classify(op, key string, err error) *Error {
	e := &Error{Op: op, Key: key, Err: err}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return e
	}
	code := errorCode(err)
	st := status(err)
	if why, ok := credentialCodes[code]; ok {
		e.Permanent = true
		e.Err = fmt.Errorf("%w: %s (%s): %v", ErrCredentials, why, code, err)
		return e
	}
	switch {
	case st == http.StatusPreconditionFailed || code == "PreconditionFailed":
		e.Permanent = true
		e.Err = fmt.Errorf("%w: %v", ErrChanged, err)
	case st == http.StatusConflict && code == "ConditionalRequestConflict":
		// Another conditional write of the same key is in flight: retrying decides.
	case code == "NoSuchKey" || (st == http.StatusNotFound && code != "NoSuchBucket" && code != "NoSuchUpload" && key != ""):
		e.Permanent = true
		e.Err = fmt.Errorf("%w: %v", ErrNotFound, err)
	case permanentCodes[code]:
		e.Permanent = true
	case retryableCodes[code]:
	case st == http.StatusForbidden:
		e.Permanent = true
	case st == http.StatusTooManyRequests || st == http.StatusRequestTimeout || st >= 500:
	case st >= 400:
		e.Permanent = true
	}
	return e
}

func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// status is the HTTP status of a failed response, or 0 when no response came (network error).
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
