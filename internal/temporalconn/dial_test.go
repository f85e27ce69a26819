//go:build integration

package temporalconn

import (
	"context"
	"crypto/x509"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	sdklog "go.temporal.io/sdk/log"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/testenv"
)

// TestDialThroughTLSFrontends starts a Temporal dev server and puts TLS-terminating proxies of
// the test's own CA in front of it, then dials through this package as the worker does.
func TestDialThroughTLSFrontends(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := testenv.StartTemporal(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler)) // Dial's "Temporal connected" lines
	t.Cleanup(func() { slog.SetDefault(prev) })
	home := t.TempDir() // no temporal.toml of the machine's user
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)

	pki := newTestPKI(t)
	otherCA := newTestPKI(t) // signs nothing the proxies present
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(pki.caCert)
	tlsOnly := startTLSProxy(t, srv.Address, pki.ServerCert, nil)
	named := startTLSProxy(t, srv.Address, pki.NamedServerCert, nil)
	mtls := startTLSProxy(t, srv.Address, pki.ServerCert, clientCAs)

	base := config.Temporal{TemporalNamespace: srv.Namespace}
	with := func(addr string, edit func(*config.Temporal)) config.Temporal {
		c := base
		c.TemporalAddress = addr
		if edit != nil {
			edit(&c)
		}
		return c
	}
	tests := []struct {
		name    string
		cfg     config.Temporal
		wantErr []string // all of them in the error; nil: the dial works
	}{
		{"plaintext to the dev server", with(srv.Address, nil), nil},
		{"TLS with the test CA", with(tlsOnly.Addr, func(c *config.Temporal) { c.TemporalTLSCAFile = pki.CAFile }), nil},
		{"TLS checking a server name that differs from the address", with(named.Addr, func(c *config.Temporal) {
			c.TemporalTLSCAFile, c.TemporalTLSServerName = pki.CAFile, "temporal.test"
		}), nil},
		{"TLS to a certificate without the address's name fails", with(named.Addr, func(c *config.Temporal) { c.TemporalTLSCAFile = pki.CAFile }),
			[]string{"dial Temporal at " + named.Addr, "TLS", "doesn't contain any IP SANs"}},
		{"TLS with a wrong CA fails", with(tlsOnly.Addr, func(c *config.Temporal) { c.TemporalTLSCAFile = otherCA.CAFile }),
			[]string{"dial Temporal at " + tlsOnly.Addr, "(namespace default, TLS)", "certificate signed by unknown authority"}},
		{"TLS with the system roots does not trust the test CA", with(tlsOnly.Addr, func(c *config.Temporal) { c.TemporalTLS = "true" }),
			[]string{"certificate signed by unknown authority"}},
		{"plaintext to a TLS frontend fails", with(tlsOnly.Addr, nil), []string{"dial Temporal at " + tlsOnly.Addr, "plaintext"}},
		{"mTLS with the client certificate", with(mtls.Addr, func(c *config.Temporal) {
			c.TemporalTLSCAFile, c.TemporalTLSCertFile, c.TemporalTLSKeyFile = pki.CAFile, pki.ClientCertFile, pki.ClientKeyFile
		}), nil},
		{"mTLS without a client certificate fails", with(mtls.Addr, func(c *config.Temporal) { c.TemporalTLSCAFile = pki.CAFile }),
			[]string{"dial Temporal at " + mtls.Addr, "(namespace default, TLS)", "certificate required"}},
		{"mTLS with a certificate of another CA fails", with(mtls.Addr, func(c *config.Temporal) {
			c.TemporalTLSCAFile, c.TemporalTLSCertFile, c.TemporalTLSKeyFile = pki.CAFile, otherCA.ClientCertFile, otherCA.ClientKeyFile
		}), []string{"dial Temporal at " + mtls.Addr, "(namespace default, mTLS)", "unknown certificate authority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second) // the launcher's dial bound
			defer cancel()
			c, err := Dial(dctx, tt.cfg, DialOptions{Logger: quiet()})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.WorkflowService().DescribeNamespace(dctx, &workflowservice.DescribeNamespaceRequest{Namespace: srv.Namespace}); err != nil {
					t.Fatalf("connected but a request fails: %v", err)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("dial worked")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}

	t.Run("an API key goes to the frontend as a bearer token over TLS", func(t *testing.T) {
		const key = "test-api-key-1234"
		keyed := startTLSProxy(t, srv.Address, pki.ServerCert, nil)
		cfg := with(keyed.Addr, func(c *config.Temporal) { c.TemporalAPIKey, c.TemporalTLSCAFile = key, pki.CAFile })
		opts, s, err := ClientOptions(cfg, mapEnv{})
		if err != nil {
			t.Fatal(err)
		}
		if opts.Credentials == nil || !s.APIKey || !s.TLS {
			t.Fatalf("options carry no API key credentials or no TLS: %+v", s)
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := Dial(dctx, cfg, DialOptions{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WorkflowService().DescribeNamespace(dctx, &workflowservice.DescribeNamespaceRequest{Namespace: srv.Namespace}); err != nil {
			t.Fatal(err)
		}
		auth := keyed.authorizations()
		if len(auth) == 0 {
			t.Fatal("the frontend saw no authorization header")
		}
		for _, a := range auth {
			if a != "Bearer "+key {
				t.Fatalf("authorization %q, want the bearer key", a)
			}
		}
		// Without a key, the same frontend sees none.
		plain := startTLSProxy(t, srv.Address, pki.ServerCert, nil)
		c2, err := Dial(dctx, with(plain.Addr, func(c *config.Temporal) { c.TemporalTLSCAFile = pki.CAFile }), DialOptions{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		c2.Close()
		if got := plain.authorizations(); len(got) != 0 {
			t.Fatalf("authorization sent without a key: %q", got)
		}
	})

	t.Run("the standard TEMPORAL_ variables alone reach an mTLS frontend", func(t *testing.T) {
		env := mapEnv{"TEMPORAL_ADDRESS": mtls.Addr, "TEMPORAL_NAMESPACE": srv.Namespace,
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.CAFile,
			"TEMPORAL_TLS_CLIENT_CERT_PATH":    pki.ClientCertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.ClientKeyFile}
		cfg := parseTemporal(t, nil, nil) // logetl's defaults, as `logetl worker` with no LOGETL_TEMPORAL_*
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := Dial(dctx, cfg, DialOptions{Logger: quiet(), Env: env})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
}

func quiet() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }
