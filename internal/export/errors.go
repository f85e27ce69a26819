package export

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// ErrInvalidConfig marks a configuration the exporter cannot work with; it is permanent.
var ErrInvalidConfig = errors.New("invalid export configuration")

// mysqlPermanent are MySQL error numbers that retrying cannot fix: wrong credentials, a
// missing database or table, missing privileges.
var mysqlPermanent = map[uint16]bool{
	1044: true, // access denied to database
	1045: true, // access denied for user
	1049: true, // unknown database
	1142: true, // command denied (privileges)
	1143: true, // column access denied
	1146: true, // table does not exist (migrations not applied)
}

// IsPermanent reports whether retrying cannot fix err: a missing or corrupt keyring, an invalid
// window or range, a bad configuration or table spec, a MySQL table that no longer matches its
// spec, a lake whose layout differs, a value its column cannot hold, a missing bucket or denied
// access, wrong database credentials. Temporal activities map these to non-retryable errors.
// Everything else (network, MySQL restarting, S3 5xx and throttling, a concurrent rewrite,
// coverage gaps that a later export fills) is retryable.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, s3store.ErrNotFound) || errors.Is(err, s3store.ErrChanged) {
		return false // an object may appear, or settle, after a concurrent or repeated export
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && mysqlPermanent[me.Number] {
		return true
	}
	return errors.Is(err, protect.ErrKeyring) ||
		errors.Is(err, partition.ErrInvalid) ||
		errors.Is(err, ErrInvalidConfig) ||
		errors.Is(err, tablespec.ErrInvalid) ||
		errors.Is(err, tablespec.ErrValue) ||
		errors.Is(err, logtable.ErrSchema) ||
		errors.Is(err, lake.ErrLayout) ||
		errors.Is(err, ErrRange) ||
		s3store.IsPermanent(err)
}

// ErrRange marks a range longer than the configured maximum.
var ErrRange = errors.New("range too long")

// CoverageError is a compaction refused because the daily files do not hold exactly MySQL's
// rows for every window of the week. It is retryable: the compaction workflow repairs the
// windows it names and tries again.
type CoverageError struct {
	Week     partition.Week
	Problems []WindowStatus
}

func (e *CoverageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "daily files of week %s do not cover MySQL's rows in %d window(s):", e.Week, len(e.Problems))
	for i, p := range e.Problems {
		if i == 20 {
			fmt.Fprintf(&b, " ... and %d more", len(e.Problems)-i)
			break
		}
		fmt.Fprintf(&b, " %s %s (mysql %d, files %d);", p.Window, p.Status, p.MySQLRows, p.FileRows)
	}
	return strings.TrimSuffix(b.String(), ";")
}
