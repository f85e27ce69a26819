// Package parquetlog writes and reads the Parquet files of the exported activity log.
package parquetlog

import "time"

// SchemaVersion is written into every file's metadata and manifest; bump it on any change of Row.
const SchemaVersion = 1

// Row is one exported activity-log row: identifiers pseudonymized, personal data encrypted,
// everything else in clear for analytics. Low-cardinality strings are dictionary encoded.
type Row struct {
	LogID         int64     `parquet:"log_id"`
	OccurredAt    time.Time `parquet:"occurred_at,timestamp(microsecond)"`
	RequestID     string    `parquet:"request_id"`
	UserPseudonym *string   `parquet:"user_pseudonym,optional,dict"`
	Action        string    `parquet:"action,dict"`
	Method        string    `parquet:"method,dict"`
	Route         string    `parquet:"route,dict"`
	Path          string    `parquet:"path,dict"`
	Status        int32     `parquet:"status"`
	PostID        *int64    `parquet:"post_id,optional"`
	ClientIPEnc   []byte    `parquet:"client_ip_enc,dict"`
	UserAgentEnc  []byte    `parquet:"user_agent_enc,dict"`
	EmailEnc      []byte    `parquet:"email_enc,optional,dict"`
	Message       string    `parquet:"message,dict"`
}
