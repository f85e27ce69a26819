// Package config defines every setting of logetl in one place. Each setting is a command-line
// flag and an environment variable LOGETL_<NAME>; the defaults are the ones `make run` needs, so
// a developer sets nothing. Commands embed the groups they use, and kong renders them in --help.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alecthomas/kong"

	"github.com/logetl/logetl/internal/tablespec"
)

// DataDir is where local state lives (generated secrets, the dev stack's databases and logs).
type DataDir struct {
	DataDir string `name:"data-dir" env:"LOGETL_DATA_DIR" default:"./.logetl" help:"Folder for local state: generated JWT secret and keyring, dev stack data and logs."`
}

// Path joins elem below the data folder.
func (d DataDir) Path(elem ...string) string {
	return filepath.Join(append([]string{d.DataDir}, elem...)...)
}

// MySQL locates the operational database.
type MySQL struct {
	MySQLDSN string `name:"mysql-dsn" env:"LOGETL_MYSQL_DSN" default:"root@tcp(127.0.0.1:3306)/logetl?parseTime=true&loc=UTC" help:"go-sql-driver DSN of the MySQL/MariaDB database (parseTime=true and loc=UTC are required)."`
}

// API configures the HTTP server of 'logetl api'.
type API struct {
	APIAddr       string        `name:"api-addr" env:"LOGETL_API_ADDR" default:"127.0.0.1:8080" help:"Listen address of the REST API."`
	JWTSecret     string        `name:"jwt-secret" env:"LOGETL_JWT_SECRET" help:"HS256 signing secret for JWTs. Empty: generated once and kept in the data folder (refused in production mode)."`
	Production    bool          `name:"production" env:"LOGETL_PRODUCTION" help:"Production mode: refuse to start with a generated, default or short (<32 bytes) JWT secret."`
	NoMigrate     bool          `name:"no-migrate" env:"LOGETL_NO_MIGRATE" help:"Do not apply schema migrations at start."`
	MaxBodyBytes  int64         `name:"max-body-bytes" env:"LOGETL_MAX_BODY_BYTES" default:"1048576" help:"Largest accepted request body, in bytes."`
	ShutdownGrace time.Duration `name:"shutdown-grace" env:"LOGETL_SHUTDOWN_GRACE" default:"20s" help:"How long in-flight requests may run after a stop signal."`

	AdminEmails    []string      `name:"admin-emails" env:"LOGETL_ADMIN_EMAILS" sep:"," help:"Comma-separated emails that are made admins: at start (existing users), at signup and at login. Register these addresses yourself first."`
	TrustedProxies []string      `name:"trusted-proxies" env:"LOGETL_TRUSTED_PROXIES" sep:"," help:"Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed. Empty: none; the client IP is the peer address."`
	RequestTimeout time.Duration `name:"request-timeout" env:"LOGETL_REQUEST_TIMEOUT" default:"10s" help:"Longest time a request may spend on the database before it fails with 503."`
	LoginPerMinute float64       `name:"login-per-minute" env:"LOGETL_LOGIN_PER_MINUTE" default:"10" help:"Login attempts allowed per minute per client IP and email (token bucket refill rate)."`
	LoginBurst     int           `name:"login-burst" env:"LOGETL_LOGIN_BURST" default:"10" help:"Login attempts allowed at once per client IP and email before rate limiting starts (429)."`
}

// APIClient tells bots where the API is.
type APIClient struct {
	APIURL string `name:"api-url" env:"LOGETL_API_URL" default:"http://127.0.0.1:8080" help:"Base URL at which bots reach the API."`
}

// Temporal locates the Temporal frontend.
type Temporal struct {
	TemporalAddress   string `name:"temporal-address" env:"LOGETL_TEMPORAL_ADDRESS" default:"127.0.0.1:7233" help:"Temporal frontend host:port. When neither this flag nor its variable is set, TEMPORAL_ADDRESS or the profile's address replaces the default."`
	TemporalNamespace string `name:"temporal-namespace" env:"LOGETL_TEMPORAL_NAMESPACE" default:"default" help:"Temporal namespace. When neither this flag nor its variable is set, TEMPORAL_NAMESPACE or the profile's namespace replaces the default."`
	TaskQueue         string `name:"task-queue" env:"LOGETL_TASK_QUEUE" default:"logetl" help:"Temporal task queue of the worker."`
	TemporalUIURL     string `name:"temporal-ui-url" env:"LOGETL_TEMPORAL_UI_URL" default:"http://127.0.0.1:8233" help:"Base URL of the Temporal Web UI, used to print links to runs."`

	// Connection security and the standard Temporal client configuration (internal/temporalconn
	// merges them; docs/connections.md has the precedence). Empty means "not set here".
	TemporalAPIKey        string `name:"temporal-api-key" env:"LOGETL_TEMPORAL_API_KEY" help:"API key (Temporal Cloud), sent as a bearer token; turns TLS on unless --temporal-tls=false. Prefer the environment or a profile to the command line. Empty: TEMPORAL_API_KEY, then the profile's."`
	TemporalTLS           string `name:"temporal-tls" env:"LOGETL_TEMPORAL_TLS" enum:",true,false" default:"" help:"true or false to force TLS to the frontend on or off. Empty: TEMPORAL_TLS, then the profile, else on when a CA, client certificate or API key is set."`
	TemporalTLSCAFile     string `name:"temporal-tls-ca-file" env:"LOGETL_TEMPORAL_TLS_CA_FILE" help:"PEM file of the CA(s) that sign the frontend's certificate. Empty: TEMPORAL_TLS_SERVER_CA_CERT_PATH, then the profile's, else the system roots."`
	TemporalTLSCertFile   string `name:"temporal-tls-cert-file" env:"LOGETL_TEMPORAL_TLS_CERT_FILE" help:"PEM client certificate for mTLS (with --temporal-tls-key-file). Empty: TEMPORAL_TLS_CLIENT_CERT_PATH, then the profile's."`
	TemporalTLSKeyFile    string `name:"temporal-tls-key-file" env:"LOGETL_TEMPORAL_TLS_KEY_FILE" help:"PEM private key of the mTLS client certificate. Empty: TEMPORAL_TLS_CLIENT_KEY_PATH, then the profile's."`
	TemporalTLSServerName string `name:"temporal-tls-server-name" env:"LOGETL_TEMPORAL_TLS_SERVER_NAME" help:"Name the frontend's certificate must carry (and SNI), when it differs from the address's host. Empty: TEMPORAL_TLS_SERVER_NAME, then the profile's."`
	TemporalProfile       string `name:"temporal-profile" env:"LOGETL_TEMPORAL_PROFILE" help:"Profile of the Temporal client config file to use. Empty: TEMPORAL_PROFILE, else 'default' (which may be absent)."`
	TemporalConfigFile    string `name:"temporal-config-file" env:"LOGETL_TEMPORAL_CONFIG_FILE" help:"Temporal client config file (TOML profiles, as the temporal CLI writes them). Empty: TEMPORAL_CONFIG_FILE, else temporalio/temporal.toml in the user config folder, if it exists."`

	// defaulted names the flags above that kong filled from their default tag: they were neither
	// on the command line nor in the environment, so TEMPORAL_* and the profile may override them.
	defaulted map[string]bool
}

// Flag names of the Temporal settings that the standard Temporal configuration can also give.
const (
	FlagTemporalAddress   = "temporal-address"
	FlagTemporalNamespace = "temporal-namespace"
)

// AfterApply records which Temporal settings came from their defaults (kong calls it after
// parsing). Values set on the command line or through their LOGETL_* variable count as given,
// even when equal to the default.
func (t *Temporal) AfterApply(kctx *kong.Context) error {
	onCommandLine := map[string]bool{}
	for _, p := range kctx.Path {
		if p.Flag != nil {
			onCommandLine[p.Flag.Name] = true
		}
	}
	t.defaulted = map[string]bool{}
	for _, f := range kctx.Flags() {
		if f.Name != FlagTemporalAddress && f.Name != FlagTemporalNamespace || onCommandLine[f.Name] {
			continue
		}
		inEnv := false
		for _, env := range f.Tag.Envs {
			if _, ok := os.LookupEnv(env); ok {
				inEnv = true
			}
		}
		t.defaulted[f.Name] = !inEnv
	}
	return nil
}

// Defaulted reports whether the flag's value is its default rather than given by the user. A
// Temporal built in code (not by kong) has no defaulted values: what it holds is meant.
func (t Temporal) Defaulted(flag string) bool { return t.defaulted[flag] }

// S3 says where exported files go.
type S3 struct {
	S3Endpoint    string `name:"s3-endpoint" env:"LOGETL_S3_ENDPOINT" default:"http://127.0.0.1:7070" help:"S3-compatible endpoint URL; 'aws' (or empty) for AWS S3 itself."`
	S3Bucket      string `name:"s3-bucket" env:"LOGETL_S3_BUCKET" default:"logetl" help:"Bucket of the data lake."`
	S3Prefix      string `name:"s3-prefix" env:"LOGETL_S3_PREFIX" default:"logs" help:"Key prefix under which tables are written."`
	S3Region      string `name:"s3-region" env:"LOGETL_S3_REGION" default:"us-east-1" help:"Region of the bucket."`
	S3SSE         string `name:"s3-sse" env:"LOGETL_S3_SSE" enum:",AES256,aws:kms" default:"" help:"Server-side encryption: empty for none, AES256 or aws:kms."`
	S3SSEKMSKeyID string `name:"s3-sse-kms-key-id" env:"LOGETL_S3_SSE_KMS_KEY_ID" help:"KMS key id or ARN when --s3-sse=aws:kms."`
	S3PartSize    int64  `name:"s3-part-size" env:"LOGETL_S3_PART_SIZE" default:"8388608" help:"Multipart upload part size in bytes (at least 5 MiB), doubled after every 1000 parts of one upload; with --s3-upload-concurrency it bounds the upload's memory."`
	S3Concurrency int    `name:"s3-upload-concurrency" env:"LOGETL_S3_UPLOAD_CONCURRENCY" default:"2" help:"Parts of one multipart upload sent in parallel."`
	S3Checksum    string `name:"s3-checksum" env:"LOGETL_S3_CHECKSUM" enum:"CRC32,SHA256" default:"CRC32" help:"Checksum the S3 server verifies on every uploaded part: CRC32 or SHA256."`
}

// AWSEndpoint returns the endpoint to configure, or "" for AWS S3 itself.
func (s S3) AWSEndpoint() string {
	if s.S3Endpoint == "aws" {
		return ""
	}
	return s.S3Endpoint
}

// Keyring locates the keys used to pseudonymize and encrypt fields.
type Keyring struct {
	KeyringPath string `name:"keyring" env:"LOGETL_KEYRING" help:"Keyring file with the HMAC and AES keys. Empty: <data-dir>/keyring.json. Only logetl keys generate and the dev stack create it; every other command that needs it fails when it is missing, saying so."`
}

// Resolve returns the keyring file path: KeyringPath if set, else <data-dir>/keyring.json. Every
// command resolves it this way so that they all read and write the same file.
func (k Keyring) Resolve(d DataDir) string {
	if k.KeyringPath != "" {
		return k.KeyringPath
	}
	return d.Path("keyring.json")
}

// Partitioning says how windows map to day and week partitions.
type Partitioning struct {
	Timezone string `name:"timezone" env:"LOGETL_TIMEZONE" help:"IANA time zone in which day (dt=) and ISO week (week=) partitions are computed. Unset: a table spec's timezone, else the zone the table's lake recorded at its first export, else UTC."`
}

// DefaultTimezone is the partitions' zone when nothing else says.
const DefaultTimezone = "UTC"

// Location loads the configured time zone (DefaultTimezone when unset).
func (p Partitioning) Location() (*time.Location, error) {
	name := p.Timezone
	if name == "" {
		name = DefaultTimezone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", name, err)
	}
	return loc, nil
}

// Tables locates the table specs.
type Tables struct {
	TablesFile string `name:"tables" env:"LOGETL_TABLES" help:"YAML file declaring the exported tables (docs/tables.md; logetl tables inspect prints a starting one). Empty: the built-in spec of the API's activity_log table."`
}

// TableSelect picks tables for a one-table command.
type TableSelect struct {
	Table string `name:"table" short:"t" env:"LOGETL_TABLE" help:"Lake name of the table to work on; may be omitted when the specs declare one table."`
}

// Ranges bounds the ranges that exports, verifies and backfills accept.
type Ranges struct {
	MaxRange Days `name:"max-range" env:"LOGETL_MAX_RANGE" default:"${max_range}" help:"Longest range an export, verify or backfill accepts (e.g. 36500d); longer ones are refused with this limit named."`
}

// Retention paces the purges of tables with a retention.
type Retention struct {
	PurgeChunkRows    int           `name:"purge-chunk-rows" env:"LOGETL_PURGE_CHUNK_ROWS" default:"${purge_chunk_rows}" help:"Rows each DELETE of a purge removes (one short transaction each)."`
	PurgePause        time.Duration `name:"purge-pause" env:"LOGETL_PURGE_PAUSE" default:"${purge_pause}" help:"Pause between a purge's DELETEs."`
	PurgeMaxLockWaits int           `name:"purge-max-lock-waits" env:"LOGETL_PURGE_MAX_LOCK_WAITS" default:"${purge_max_lock_waits}" help:"A purge waits while more transactions than this wait for row locks (Innodb_row_lock_current_waits)."`
	PurgeSlowChunk    time.Duration `name:"purge-slow-chunk" env:"LOGETL_PURGE_SLOW_CHUNK" default:"${purge_slow_chunk}" help:"A DELETE slower than this makes the purge pause longer before the next one."`
}

// Export tunes the export pipeline.
type Export struct {
	Compression     string        `name:"compression" env:"LOGETL_COMPRESSION" enum:"zstd,snappy,gzip,none" default:"zstd" help:"Parquet compression codec."`
	RowGroupRows    int           `name:"row-group-rows" env:"LOGETL_ROW_GROUP_ROWS" default:"100000" help:"Rows per Parquet row group; bounds the writer's memory."`
	SafetyLag       time.Duration `name:"safety-lag" env:"LOGETL_SAFETY_LAG" default:"1m" help:"A window is exported only once its end is this far in the past, so transactions still committing are included."`
	Window          time.Duration `name:"window" env:"LOGETL_EXPORT_WINDOW" help:"Length of an export window (whole minutes); windows are a fixed grid aligned to multiples of it since the Unix epoch. Unset: a table spec's window, else the window the table's lake recorded at its first export, else ${default_window}."`
	FieldEncryption string        `name:"field-encryption" env:"LOGETL_FIELD_ENCRYPTION" enum:"per-value,per-rowgroup" default:"per-value" help:"AES-GCM scheme of protected fields: per-value (fresh nonce for every value) or per-rowgroup (equal values share one ciphertext within a row group, smaller files)."`
}

// DefaultWindow is the export window when nothing else says.
const DefaultWindow = 15 * time.Minute

// Days is a duration that also reads NNd (kong flags).
type Days time.Duration

// UnmarshalText reads Go durations and whole days or weeks (36500d, 2w), as table specs do.
func (d *Days) UnmarshalText(b []byte) error {
	v, err := tablespec.ParseDuration(string(b))
	if err != nil || v < 0 {
		return fmt.Errorf("%q is neither a duration (90h) nor days (30d)", string(b))
	}
	*d = Days(v)
	return nil
}

// D is the duration.
func (d Days) D() time.Duration { return time.Duration(d) }

// Log configures structured logging.
type Log struct {
	LogLevel  string `name:"log-level" env:"LOGETL_LOG_LEVEL" enum:"debug,info,warn,error" default:"info" help:"Log level."`
	LogFormat string `name:"log-format" env:"LOGETL_LOG_FORMAT" enum:"text,json" default:"text" help:"Log format."`
}

// Schedules picks the cadences of the Temporal schedules that `logetl schedules apply` (and the
// worker at start) creates or updates. The export schedule always runs every export window.
type Schedules struct {
	ScheduleProfile  string `name:"schedule-profile" env:"LOGETL_SCHEDULE_PROFILE" enum:"prod,dev" default:"prod" help:"Schedule cadences: prod (weekly compaction of the closed week, hourly verify of the last 24h, bots every few minutes) or dev (compaction of the current week every 2 minutes, verify every 5 minutes, bots every minute)."`
	BotSignupCount   int    `name:"bot-signup-count" env:"LOGETL_BOT_SIGNUP_COUNT" default:"1" help:"Bot accounts created by each run of the bot signup schedule."`
	BotActivityCount int    `name:"bot-activity-count" env:"LOGETL_BOT_ACTIVITY_COUNT" default:"3" help:"Bot sessions (login, create, update, view, delete a post) run by each run of the bot activity schedule."`
}

// Worker configures `logetl worker`.
type Worker struct {
	WorkerMetricsAddr string `name:"worker-metrics-addr" env:"LOGETL_WORKER_METRICS_ADDR" default:"127.0.0.1:9464" help:"Listen address of the worker's Prometheus /metrics (Temporal SDK and pipeline metrics); empty disables it."`
	NoSchedules       bool   `name:"no-schedules" env:"LOGETL_NO_SCHEDULES" help:"Do not create or update the Temporal schedules at start."`
	NoPreflight       bool   `name:"no-preflight" env:"LOGETL_NO_PREFLIGHT" help:"Skip the start-up checks (Temporal, search attributes, S3, keyring, MySQL grants and tables); the worker then starts even if they would fail."`
	BackfillGaps      bool   `name:"backfill-gaps" env:"LOGETL_BACKFILL_GAPS" help:"At start, backfill the rows of MySQL that the lake has never exported (a new or replaced lake over an existing database); without it the worker logs the logetl backfill command that does."`
}
