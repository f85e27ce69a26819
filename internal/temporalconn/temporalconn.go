// Package temporalconn is logetl's one way to reach the Temporal frontend: it merges logetl's
// --temporal-* settings with the standard Temporal client configuration (TEMPORAL_* environment
// variables and TOML profiles, read by go.temporal.io/sdk/contrib/envconfig) into client.Options,
// and dials. The worker, `logetl schedules` and the launcher (API backfills, `logetl backfill`)
// all dial through it.
//
// Precedence, per setting (docs/connections.md):
//
//  1. a --temporal-* flag or its LOGETL_TEMPORAL_* variable, when given;
//  2. the TEMPORAL_* environment variable;
//  3. the selected profile of the Temporal config file;
//  4. logetl's default (address 127.0.0.1:7233, namespace default, plaintext).
//
// The API key and key material are never logged nor put in errors.
package temporalconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/BurntSushi/toml"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/logetl/logetl/internal/config"
)

// Env looks up environment variables; envconfig.EnvLookupOS in production, a map in tests.
type Env = envconfig.EnvLookup

// Settings describes a resolved connection without its secrets, for logs and errors.
type Settings struct {
	Address    string
	Namespace  string
	TLS        bool
	ServerName string // "" when it is the address's host
	CAFile     string // "" for the system roots (or CA data given inline)
	MTLS       bool   // a client certificate is presented
	SkipVerify bool   // the server certificate is not verified (TEMPORAL_TLS_DISABLE_HOST_VERIFICATION)
	APIKey     bool   // an API key is sent
	ConfigFile string // the config file named by flag or TEMPORAL_CONFIG_FILE; "" for the default location
	Profile    string // the profile named by flag or TEMPORAL_PROFILE; "" for "default"
}

// LogAttrs returns the settings as slog attributes.
func (s Settings) LogAttrs() []any {
	return []any{"address", s.Address, "namespace", s.Namespace, "tls", s.TLS, "mtls", s.MTLS,
		"api_key", s.APIKey, "server_name", s.ServerName, "ca_file", s.CAFile, "profile", s.Profile}
}

func (s Settings) String() string {
	sec := "plaintext"
	switch {
	case s.TLS && s.MTLS:
		sec = "mTLS"
	case s.TLS:
		sec = "TLS"
	}
	if s.APIKey {
		sec += " with API key"
	}
	return fmt.Sprintf("%s (namespace %s, %s)", s.Address, s.Namespace, sec)
}

// ClientOptions resolves cfg and env into the options of an SDK client; Logger and
// MetricsHandler are left for the caller.
func ClientOptions(cfg config.Temporal, env Env) (client.Options, Settings, error) {
	prof, err := profile(cfg, env)
	if err != nil {
		return client.Options{}, Settings{}, err
	}
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		// envconfig names the file or field (cert/key pair, CA file) but never its content.
		return client.Options{}, Settings{}, fmt.Errorf("Temporal connection: %w", err)
	}
	s := Settings{Address: opts.HostPort, Namespace: opts.Namespace, TLS: opts.ConnectionOptions.TLS != nil,
		APIKey: prof.APIKey != "", ConfigFile: first(cfg.TemporalConfigFile, lookup(env, "TEMPORAL_CONFIG_FILE")),
		Profile: first(cfg.TemporalProfile, lookup(env, "TEMPORAL_PROFILE"))}
	if t := opts.ConnectionOptions.TLS; t != nil {
		s.ServerName = t.ServerName
		s.MTLS = len(t.Certificates) > 0
		s.SkipVerify = t.InsecureSkipVerify
	}
	if prof.TLS != nil && s.TLS {
		s.CAFile = prof.TLS.ServerCACertPath
	}
	return opts, s, nil
}

// profile merges the sources into one envconfig profile: file, then TEMPORAL_* (envconfig's own
// order), then the LOGETL settings that were given, then logetl's defaults for what is still
// unset.
func profile(cfg config.Temporal, env Env) (envconfig.ClientConfigProfile, error) {
	file := first(cfg.TemporalConfigFile, lookup(env, "TEMPORAL_CONFIG_FILE"))
	if file != "" {
		// envconfig skips a missing file; one that was named explicitly is a mistake to report.
		if _, err := os.Stat(file); err != nil {
			return envconfig.ClientConfigProfile{}, fmt.Errorf("Temporal config file: %w", err)
		}
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFilePath:    cfg.TemporalConfigFile,
		ConfigFileProfile: cfg.TemporalProfile,
		EnvLookup:         env,
	})
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// The parser's message may quote the offending value, which may be a key.
			return envconfig.ClientConfigProfile{}, fmt.Errorf("Temporal config file %s: invalid TOML at line %d (key %q)", orDefault(file), pe.Position.Line, pe.LastKey)
		}
		return envconfig.ClientConfigProfile{}, fmt.Errorf("Temporal config file %s: %w", orDefault(file), err)
	}

	if v := cfg.TemporalAddress; v != "" && (prof.Address == "" || !cfg.Defaulted(config.FlagTemporalAddress)) {
		prof.Address = v
	}
	if v := cfg.TemporalNamespace; v != "" && (prof.Namespace == "" || !cfg.Defaulted(config.FlagTemporalNamespace)) {
		prof.Namespace = v
	}
	if cfg.TemporalAPIKey != "" {
		prof.APIKey = cfg.TemporalAPIKey
	}
	tlsCfg := func() *envconfig.ClientConfigTLS {
		if prof.TLS == nil {
			prof.TLS = &envconfig.ClientConfigTLS{}
		}
		return prof.TLS
	}
	// A file given here replaces the same setting given inline (TEMPORAL_TLS_*_DATA, *_data in
	// the profile): envconfig refuses both at once.
	if cfg.TemporalTLSCAFile != "" {
		t := tlsCfg()
		t.ServerCACertPath, t.ServerCACertData = cfg.TemporalTLSCAFile, nil
	}
	if cfg.TemporalTLSCertFile != "" || cfg.TemporalTLSKeyFile != "" {
		if cfg.TemporalTLSCertFile == "" || cfg.TemporalTLSKeyFile == "" {
			return envconfig.ClientConfigProfile{}, errors.New("Temporal connection: --temporal-tls-cert-file and --temporal-tls-key-file go together")
		}
		t := tlsCfg()
		t.ClientCertPath, t.ClientCertData = cfg.TemporalTLSCertFile, nil
		t.ClientKeyPath, t.ClientKeyData = cfg.TemporalTLSKeyFile, nil
	}
	if cfg.TemporalTLSServerName != "" {
		tlsCfg().ServerName = cfg.TemporalTLSServerName
	}
	switch cfg.TemporalTLS {
	case "true":
		tlsCfg().Disabled = false
	case "false":
		tlsCfg().Disabled = true
	}
	if prof.Address == "" {
		return envconfig.ClientConfigProfile{}, errors.New("Temporal connection: no address (set --temporal-address)")
	}
	if prof.Namespace == "" {
		prof.Namespace = client.DefaultNamespace
	}
	return prof, nil
}

// DialOptions are what a caller adds to the resolved options.
type DialOptions struct {
	// Logger of the SDK client; nil logs through slog.Default().
	Logger sdklog.Logger
	// MetricsHandler of the SDK client; nil reports no SDK metrics.
	MetricsHandler client.MetricsHandler
	// Env replaces the process environment (tests); nil is the process environment.
	Env Env
	// Adjust, when set, edits the options last (the worker and tests add gRPC interceptors).
	Adjust func(*client.Options)
}

// Dial resolves cfg and connects; it returns once the frontend answered, or fails with the
// address, the security in use and the SDK's reason (a TLS verification error, a refused
// connection). ctx bounds the dial.
func Dial(ctx context.Context, cfg config.Temporal, do DialOptions) (client.Client, error) {
	env := do.Env
	if env == nil {
		env = envconfig.EnvLookupOS
	}
	opts, s, err := ClientOptions(cfg, env)
	if err != nil {
		return nil, err
	}
	opts.Logger = do.Logger
	if opts.Logger == nil {
		opts.Logger = sdklog.NewStructuredLogger(slog.Default())
	}
	opts.MetricsHandler = do.MetricsHandler
	if do.Adjust != nil {
		do.Adjust(&opts)
	}
	if s.APIKey && !s.TLS {
		slog.WarnContext(ctx, "Temporal API key sent without TLS", s.LogAttrs()...)
	}
	if s.SkipVerify {
		slog.WarnContext(ctx, "Temporal server certificate not verified", s.LogAttrs()...)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("dial Temporal at %s: %w", s, err)
	}
	slog.InfoContext(ctx, "Temporal connected", s.LogAttrs()...)
	return c, nil
}

func lookup(env Env, name string) string {
	if env == nil {
		env = envconfig.EnvLookupOS
	}
	v, _ := env.LookupEnv(name)
	return v
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func orDefault(file string) string {
	if file == "" {
		return envconfig.DefaultConfigFilePath()
	}
	return file
}
