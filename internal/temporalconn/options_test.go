package temporalconn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/logetl/logetl/internal/config"
)

// mapEnv is an environment for envconfig.
type mapEnv map[string]string

func (m mapEnv) LookupEnv(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapEnv) Environ() []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// logetlVars are the LOGETL_ variables of the Temporal group, cleared for every case.
var logetlVars = []string{"LOGETL_TEMPORAL_ADDRESS", "LOGETL_TEMPORAL_NAMESPACE", "LOGETL_TEMPORAL_API_KEY",
	"LOGETL_TEMPORAL_TLS", "LOGETL_TEMPORAL_TLS_CA_FILE", "LOGETL_TEMPORAL_TLS_CERT_FILE", "LOGETL_TEMPORAL_TLS_KEY_FILE",
	"LOGETL_TEMPORAL_TLS_SERVER_NAME", "LOGETL_TEMPORAL_PROFILE", "LOGETL_TEMPORAL_CONFIG_FILE"}

// parseTemporal parses args and the LOGETL_ variables of logetl into config.Temporal, as the
// commands do, with the user config folder moved to a fresh directory (where the default
// temporal.toml is looked for).
func parseTemporal(t *testing.T, args []string, logetl map[string]string) config.Temporal {
	t.Helper()
	for _, k := range logetlVars {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for k, v := range logetl {
		t.Setenv(k, v)
	}
	var cli struct{ config.Temporal }
	k, err := kong.New(&cli, kong.Name("logetl"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cli.Temporal
}

func TestClientOptionsPrecedence(t *testing.T) {
	pki := newTestPKI(t)
	files := strings.NewReplacer("{CA}", pki.CAFile, "{CERT}", pki.ClientCertFile, "{KEY}", pki.ClientKeyFile)
	const profiles = `
[profile.default]
address = "profile.example:7233"
namespace = "profile-ns"

[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
api_key = "profile-key"

[profile.mtls]
address = "mtls.example:7233"
[profile.mtls.tls]
client_cert_path = "{CERT}"
client_key_path = "{KEY}"
server_ca_cert_path = "{CA}"
server_name = "frontend.internal"

[profile.plain]
address = "plain.example:7233"
api_key = "plain-key"
[profile.plain.tls]
disabled = true
`
	type want struct {
		address, namespace string
		tls, mtls, apiKey  bool
		serverName, caFile string
	}
	tests := []struct {
		name     string
		args     []string
		logetl   map[string]string // LOGETL_ variables
		temporal mapEnv            // TEMPORAL_ variables
		file     bool              // write the profiles to the default config file
		want     want
		wantErr  string
	}{
		{name: "nothing set: logetl's defaults in plaintext",
			want: want{address: "127.0.0.1:7233", namespace: "default"}},
		{name: "TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE replace logetl's defaults",
			temporal: mapEnv{"TEMPORAL_ADDRESS": "env.example:7233", "TEMPORAL_NAMESPACE": "env-ns"},
			want:     want{address: "env.example:7233", namespace: "env-ns"}},
		{name: "LOGETL_TEMPORAL_ADDRESS beats TEMPORAL_ADDRESS",
			logetl:   map[string]string{"LOGETL_TEMPORAL_ADDRESS": "logetl.example:7233"},
			temporal: mapEnv{"TEMPORAL_ADDRESS": "env.example:7233", "TEMPORAL_NAMESPACE": "env-ns"},
			want:     want{address: "logetl.example:7233", namespace: "env-ns"}},
		{name: "a flag equal to the default still beats TEMPORAL_ADDRESS",
			args:     []string{"--temporal-address=127.0.0.1:7233", "--temporal-namespace=default"},
			temporal: mapEnv{"TEMPORAL_ADDRESS": "env.example:7233", "TEMPORAL_NAMESPACE": "env-ns"},
			want:     want{address: "127.0.0.1:7233", namespace: "default"}},
		{name: "the default profile of the default file replaces logetl's defaults", file: true,
			want: want{address: "profile.example:7233", namespace: "profile-ns"}},
		{name: "TEMPORAL_ADDRESS beats the profile, the profile's namespace stays", file: true,
			temporal: mapEnv{"TEMPORAL_ADDRESS": "env.example:7233"},
			want:     want{address: "env.example:7233", namespace: "profile-ns"}},
		{name: "TEMPORAL_PROFILE selects a profile; its API key turns TLS on", file: true,
			temporal: mapEnv{"TEMPORAL_PROFILE": "cloud"},
			want:     want{address: "ns.acct.tmprl.cloud:7233", namespace: "ns.acct", tls: true, apiKey: true}},
		{name: "--temporal-profile beats TEMPORAL_PROFILE", file: true,
			args:     []string{"--temporal-profile=mtls"},
			temporal: mapEnv{"TEMPORAL_PROFILE": "no-such-profile"},
			want:     want{address: "mtls.example:7233", namespace: "default", tls: true, mtls: true, serverName: "frontend.internal", caFile: pki.CAFile}},
		{name: "a profile's disabled TLS keeps its API key in plaintext", file: true,
			temporal: mapEnv{"TEMPORAL_PROFILE": "plain"},
			want:     want{address: "plain.example:7233", namespace: "default", apiKey: true}},
		{name: "--temporal-tls=true beats the profile's disabled TLS", file: true,
			args:     []string{"--temporal-tls=true"},
			temporal: mapEnv{"TEMPORAL_PROFILE": "plain"},
			want:     want{address: "plain.example:7233", namespace: "default", tls: true, apiKey: true}},
		{name: "a profile that was named but is absent fails", file: true,
			temporal: mapEnv{"TEMPORAL_PROFILE": "staging"},
			wantErr:  "unable to find profile staging"},
		{name: "a config file that was named but is absent fails",
			args:    []string{"--temporal-config-file=/nonexistent/temporal.toml"},
			wantErr: "/nonexistent/temporal.toml: no such file"},
		{name: "TEMPORAL_CONFIG_FILE that is absent fails too",
			temporal: mapEnv{"TEMPORAL_CONFIG_FILE": "/nonexistent/env.toml"},
			wantErr:  "/nonexistent/env.toml: no such file"},
		{name: "an API key turns TLS on with the system roots",
			logetl: map[string]string{"LOGETL_TEMPORAL_API_KEY": "logetl-key"},
			want:   want{address: "127.0.0.1:7233", namespace: "default", tls: true, apiKey: true}},
		{name: "TEMPORAL_API_KEY is used when logetl has none",
			temporal: mapEnv{"TEMPORAL_API_KEY": "env-key"},
			want:     want{address: "127.0.0.1:7233", namespace: "default", tls: true, apiKey: true}},
		{name: "--temporal-tls=false sends an API key in plaintext",
			args:   []string{"--temporal-tls=false"},
			logetl: map[string]string{"LOGETL_TEMPORAL_API_KEY": "logetl-key"},
			want:   want{address: "127.0.0.1:7233", namespace: "default", apiKey: true}},
		{name: "a CA file turns TLS on; the server name is checked instead of the host",
			logetl: map[string]string{"LOGETL_TEMPORAL_TLS_CA_FILE": pki.CAFile, "LOGETL_TEMPORAL_TLS_SERVER_NAME": "temporal.test"},
			want:   want{address: "127.0.0.1:7233", namespace: "default", tls: true, serverName: "temporal.test", caFile: pki.CAFile}},
		{name: "client certificate and key make mTLS",
			args: []string{"--temporal-tls-cert-file=" + pki.ClientCertFile, "--temporal-tls-key-file=" + pki.ClientKeyFile},
			want: want{address: "127.0.0.1:7233", namespace: "default", tls: true, mtls: true}},
		{name: "logetl's certificate files replace TEMPORAL_TLS_*_DATA instead of clashing",
			args:     []string{"--temporal-tls-cert-file=" + pki.ClientCertFile, "--temporal-tls-key-file=" + pki.ClientKeyFile},
			temporal: mapEnv{"TEMPORAL_TLS_CLIENT_CERT_DATA": "not a certificate", "TEMPORAL_TLS_CLIENT_KEY_DATA": "not a key"},
			want:     want{address: "127.0.0.1:7233", namespace: "default", tls: true, mtls: true}},
		{name: "TEMPORAL_TLS_CLIENT_CERT_DATA and _KEY_DATA make mTLS",
			temporal: mapEnv{"TEMPORAL_TLS_CLIENT_CERT_DATA": string(pki.ClientCertPEM), "TEMPORAL_TLS_CLIENT_KEY_DATA": string(pki.KeyPEM)},
			want:     want{address: "127.0.0.1:7233", namespace: "default", tls: true, mtls: true}},
		{name: "TEMPORAL_TLS=false wins over a CA file unless the TLS switch is given",
			logetl:   map[string]string{"LOGETL_TEMPORAL_TLS_CA_FILE": pki.CAFile},
			temporal: mapEnv{"TEMPORAL_TLS": "false"},
			want:     want{address: "127.0.0.1:7233", namespace: "default"}},
		{name: "LOGETL_TEMPORAL_TLS=true beats TEMPORAL_TLS=false",
			logetl:   map[string]string{"LOGETL_TEMPORAL_TLS": "true"},
			temporal: mapEnv{"TEMPORAL_TLS": "false"},
			want:     want{address: "127.0.0.1:7233", namespace: "default", tls: true}},
		{name: "a client certificate without its key fails",
			args:    []string{"--temporal-tls-cert-file=" + pki.ClientCertFile},
			wantErr: "--temporal-tls-cert-file and --temporal-tls-key-file go together"},
		{name: "an unreadable CA file fails naming the setting",
			logetl:  map[string]string{"LOGETL_TEMPORAL_TLS_CA_FILE": "/nonexistent/ca.pem"},
			wantErr: "server CA cert path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_CONFIG_HOME", home)
			if tt.file {
				dir := filepath.Join(home, "temporalio")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "temporal.toml"), []byte(files.Replace(profiles)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := parseTemporal(t, tt.args, tt.logetl)
			env := tt.temporal
			if env == nil {
				env = mapEnv{}
			}
			opts, s, err := ClientOptions(cfg, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{address: s.Address, namespace: s.Namespace, tls: s.TLS, mtls: s.MTLS, apiKey: s.APIKey, serverName: s.ServerName, caFile: s.CAFile}
			if got != tt.want {
				t.Fatalf("settings %+v\nwant     %+v", got, tt.want)
			}
			// The settings describe the options the SDK gets.
			if opts.HostPort != s.Address || opts.Namespace != s.Namespace || (opts.ConnectionOptions.TLS != nil) != s.TLS ||
				(opts.Credentials != nil) != s.APIKey || opts.ConnectionOptions.TLSDisabled == s.TLS && s.APIKey {
				t.Fatalf("options %+v disagree with settings %+v", opts, s)
			}
			if s.CAFile != "" && opts.ConnectionOptions.TLS.RootCAs == nil {
				t.Fatal("CA file given but the options verify against the system roots")
			}
		})
	}
}

func TestKongMarksOnlyUnsetTemporalFlagsAsDefaulted(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		logetl        map[string]string
		addr, ns      bool // want Defaulted
		wantAddr      string
		wantNamespace string
	}{
		{"neither given", nil, nil, true, true, "127.0.0.1:7233", "default"},
		{"address on the command line", []string{"--temporal-address=127.0.0.1:7233"}, nil, false, true, "127.0.0.1:7233", "default"},
		{"namespace in the environment", nil, map[string]string{"LOGETL_TEMPORAL_NAMESPACE": "default"}, true, false, "127.0.0.1:7233", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseTemporal(t, tt.args, tt.logetl)
			if cfg.Defaulted(config.FlagTemporalAddress) != tt.addr || cfg.Defaulted(config.FlagTemporalNamespace) != tt.ns {
				t.Fatalf("defaulted address %v namespace %v, want %v %v", cfg.Defaulted(config.FlagTemporalAddress), cfg.Defaulted(config.FlagTemporalNamespace), tt.addr, tt.ns)
			}
			if cfg.TemporalAddress != tt.wantAddr || cfg.TemporalNamespace != tt.wantNamespace {
				t.Fatalf("values %q %q", cfg.TemporalAddress, cfg.TemporalNamespace)
			}
		})
	}
	// Built in code, a Temporal holds what it means: nothing counts as defaulted.
	if (config.Temporal{TemporalAddress: "127.0.0.1:7233"}).Defaulted(config.FlagTemporalAddress) {
		t.Fatal("a literal's address counted as defaulted")
	}
}

func TestSecretsStayOutOfSettingsAndErrors(t *testing.T) {
	const key = "sekret-api-key-0123456789"
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	cfg := parseTemporal(t, nil, map[string]string{"LOGETL_TEMPORAL_API_KEY": key})
	_, s, err := ClientOptions(cfg, mapEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if text := fmt.Sprintf("%v %+v %v", s, s, s.LogAttrs()); strings.Contains(text, key) {
		t.Fatalf("settings show the API key: %s", text)
	}
	// A broken TOML line holding a key: the parser's message would quote it.
	bad := filepath.Join(home, "bad.toml")
	if err := os.WriteFile(bad, []byte("[profile.default]\napi_key = \""+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = parseTemporal(t, []string{"--temporal-config-file=" + bad}, nil)
	_, _, err = ClientOptions(cfg, mapEnv{})
	if err == nil || !strings.Contains(err.Error(), "invalid TOML at line 2") {
		t.Fatalf("error %v, want the line of the broken TOML", err)
	}
	if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "sekret") {
		t.Fatalf("error shows the API key: %v", err)
	}
}
