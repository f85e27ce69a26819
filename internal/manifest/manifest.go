// Package manifest is the JSON document written next to every exported Parquet object. It is
// the commit marker of the export: it is written only after its Parquet object is complete, and
// it holds everything a reader needs to check completeness and integrity without MySQL (rows,
// bytes, sha256, min/max log id, window, key ids). See docs/data-layout.md.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Version is the manifest format version; readers reject versions they do not know.
const Version = 1

// Granularities of a manifest.
const (
	GranularityDay  = "day"
	GranularityWeek = "week"
)

// Manifest describes one Parquet object.
type Manifest struct {
	ManifestVersion int       `json:"manifest_version"`
	Table           string    `json:"table"`
	Granularity     string    `json:"granularity"`  // day or week
	WindowStart     time.Time `json:"window_start"` // RFC 3339 UTC, inclusive
	WindowEnd       time.Time `json:"window_end"`   // RFC 3339 UTC, exclusive
	Partition       string    `json:"partition"`    // dt=YYYY-MM-DD or week=YYYY-Www
	TimeZone        string    `json:"time_zone"`    // of the partition
	Object          string    `json:"object"`       // key of the Parquet object
	// ETag is the object's S3 ETag as its upload returned it: with it a reader (verify, the
	// weekly compaction) knows the object beside the manifest is the one it describes, even
	// while a re-export is replacing it. Empty in manifests written before it existed.
	ETag            string  `json:"etag,omitempty"`
	Rows            int64   `json:"rows"`
	Bytes           int64   `json:"bytes"`
	SHA256          string  `json:"sha256"`     // hex of the Parquet object's bytes
	MinLogID        *uint64 `json:"min_log_id"` // id column's range; null when Rows == 0
	MaxLogID        *uint64 `json:"max_log_id"`
	SchemaVersion   int     `json:"schema_version"`
	Compression     string  `json:"compression"`
	FieldEncryption string  `json:"field_encryption"` // per-value or per-rowgroup
	// HMACKeyID and AEADKeyID name the keys of the pseudonyms and ciphertexts. A weekly file
	// compacted across a key rotation lists every id, comma-separated, oldest first.
	HMACKeyID     string    `json:"hmac_key_id"`
	AEADKeyID     string    `json:"aead_key_id"`
	WriterVersion string    `json:"writer_version"`
	CreatedAt     time.Time `json:"created_at"`
	// Sources lists, for a weekly file, the daily files it was compacted from.
	Sources []Source `json:"sources,omitempty"`
	// Purge records, for a daily file, that retention deleted its rows from MySQL: from then
	// on the file, not MySQL, is the window's record (docs/retention.md).
	Purge *Purge `json:"purge,omitempty"`
	// ObjectRemoved records, for a daily file, that the S3 lifecycle deleted its Parquet object
	// once the week's compacted file verified: the manifest stays as the window's record, and
	// its rows are read from WeeklyObject (verify, purge, decrypt of the weekly file).
	ObjectRemoved *time.Time `json:"object_removed,omitempty"`
	WeeklyObject  string     `json:"weekly_object,omitempty"`
}

// Purge is the retention record of a daily file.
type Purge struct {
	// State is "deleting" from the moment rows may be missing from MySQL, "done" once every
	// row of the file is gone from it.
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	DoneAt    time.Time `json:"done_at,omitzero"`
	// Deleted counts the rows this file's purges deleted from MySQL.
	Deleted int64 `json:"deleted"`
}

// Purge states.
const (
	PurgeDeleting = "deleting"
	PurgeDone     = "done"
)

// Source is one daily file that a weekly file was built from.
type Source struct {
	Object string `json:"object"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

var (
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	dayPart     = regexp.MustCompile(`^dt=\d{4}-\d{2}-\d{2}$`)
	weekPart    = regexp.MustCompile(`^week=\d{4}-W\d{2}$`)
	errManifest = errors.New("invalid manifest")
)

// ErrInvalid is wrapped by Parse and Validate errors.
var ErrInvalid = errManifest

// Marshal validates m and renders it as indented JSON with UTC times.
func (m Manifest) Marshal() ([]byte, error) {
	if m.ManifestVersion == 0 {
		m.ManifestVersion = Version
	}
	m.WindowStart, m.WindowEnd, m.CreatedAt = m.WindowStart.UTC(), m.WindowEnd.UTC(), m.CreatedAt.UTC()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse decodes and validates a manifest.
func Parse(data []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", errManifest, err)
	}
	if m.ManifestVersion != Version {
		return Manifest{}, fmt.Errorf("%w: manifest_version %d, this logetl reads %d", errManifest, m.ManifestVersion, Version)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Validate checks the manifest's internal consistency.
func (m Manifest) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w (%s): %s", errManifest, m.Object, fmt.Sprintf(format, args...))
	}
	switch {
	case m.Table == "":
		return fail("no table")
	case m.Object == "":
		return fail("no object key")
	case !m.WindowStart.Before(m.WindowEnd):
		return fail("window %s..%s is empty or reversed", m.WindowStart, m.WindowEnd)
	case m.Rows < 0 || m.Bytes <= 0:
		return fail("rows %d / bytes %d", m.Rows, m.Bytes)
	case !sha256Hex.MatchString(m.SHA256):
		return fail("sha256 %q is not 64 lowercase hex digits", m.SHA256)
	case (m.Rows == 0) != (m.MinLogID == nil) || (m.MinLogID == nil) != (m.MaxLogID == nil):
		return fail("min/max log id must be set exactly when there are rows")
	case m.MinLogID != nil && *m.MinLogID > *m.MaxLogID:
		return fail("min log id %d > max log id %d", *m.MinLogID, *m.MaxLogID)
	case m.SchemaVersion <= 0:
		return fail("schema version %d", m.SchemaVersion)
	case m.Purge != nil && m.Purge.State != PurgeDeleting && m.Purge.State != PurgeDone:
		return fail("purge state %q", m.Purge.State)
	case m.ObjectRemoved != nil && m.WeeklyObject == "":
		return fail("a removed object needs the weekly object that holds its rows")
	}
	switch m.Granularity {
	case GranularityDay:
		if !dayPart.MatchString(m.Partition) {
			return fail("day partition %q is not dt=YYYY-MM-DD", m.Partition)
		}
		if len(m.Sources) != 0 {
			return fail("a daily file has no sources")
		}
	case GranularityWeek:
		if !weekPart.MatchString(m.Partition) {
			return fail("week partition %q is not week=YYYY-Www", m.Partition)
		}
		var sum int64
		for _, s := range m.Sources {
			sum += s.Rows
		}
		if sum != m.Rows {
			return fail("weekly rows %d != sum of its sources' rows %d", m.Rows, sum)
		}
	default:
		return fail("granularity %q is neither day nor week", m.Granularity)
	}
	return nil
}
