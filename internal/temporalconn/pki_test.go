package temporalconn

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testPKI is a CA made by the test, with a server certificate for 127.0.0.1, one for the name
// temporal.test only, and a client certificate, each written as PEM files.
type testPKI struct {
	CAFile                string
	ServerCert            tls.Certificate // IP 127.0.0.1
	NamedServerCert       tls.Certificate // DNS temporal.test, no IP
	ClientCertFile        string
	ClientKeyFile         string
	ClientCertPEM, KeyPEM []byte
	pool                  *x509.CertPool
	caCert                *x509.Certificate
	caKey                 *ecdsa.PrivateKey
	dir                   string
	serial                int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir(), pool: x509.NewCertPool()}
	p.caKey = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logetl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.pool.AddCert(p.caCert)
	p.CAFile = p.write(t, "ca.pem", pemBlock("CERTIFICATE", der))

	p.ServerCert, _, _ = p.issue(t, "frontend", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, nil)
	p.NamedServerCert, _, _ = p.issue(t, "temporal.test", x509.ExtKeyUsageServerAuth, nil, []string{"temporal.test"})
	_, p.ClientCertPEM, p.KeyPEM = p.issue(t, "logetl-worker", x509.ExtKeyUsageClientAuth, nil, nil)
	p.ClientCertFile = p.write(t, "client.pem", p.ClientCertPEM)
	p.ClientKeyFile = p.write(t, "client-key.pem", p.KeyPEM)
	return p
}

func (p *testPKI) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, ips []net.IP, names []string) (tls.Certificate, []byte, []byte) {
	t.Helper()
	p.serial++
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial + 1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: ips, DNSNames: names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", keyDER)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

func (p *testPKI) write(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// tlsProxy terminates TLS (optionally requiring a client certificate of the test CA) and
// forwards the bytes to a plaintext backend, the way a TLS-fronted Temporal (a load balancer,
// Temporal Cloud's edge) looks to a client. Since it sees the plaintext HTTP/2 stream, it also
// decodes the request headers and keeps the authorization values it saw.
type tlsProxy struct {
	Addr    string
	backend string
	mu      sync.Mutex
	auth    []string
}

func startTLSProxy(t *testing.T, backend string, cert tls.Certificate, clientCAs *x509.CertPool) *tlsProxy {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
	if clientCAs != nil {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, clientCAs
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &tlsProxy{Addr: l.Addr().String(), backend: backend}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c.(*net.TCPConn), cfg)
		}
	}()
	return p
}

func (p *tlsProxy) serve(raw *net.TCPConn, cfg *tls.Config) {
	defer raw.Close()
	c := tls.Server(raw, cfg)
	if err := c.Handshake(); err != nil {
		// The alert is sent. Close like a careful TLS terminator (lingering close): stop
		// writing, read what the client still sends, then close. Closing with its bytes
		// unread would reset the connection and could lose the alert before the client reads
		// it (in TLS 1.3 the client sends its first request before the server has judged its
		// certificate).
		_ = raw.CloseWrite()
		_ = raw.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.Copy(io.Discard, raw)
		return
	}
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer b.Close()
	headers, tee := io.Pipe()
	go p.readHeaders(headers)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(io.MultiWriter(b, tee), c)
		tee.Close()
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, b)
		done <- struct{}{}
	}()
	<-done // either side gone: the deferred closes end the other copy
}

// authorizations returns the authorization header values of the requests seen so far.
func (p *tlsProxy) authorizations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auth...)
}

// readHeaders decodes the client side of an HTTP/2 connection and records authorization headers.
func (p *tlsProxy) readHeaders(r io.Reader) {
	defer io.Copy(io.Discard, r) //nolint:errcheck // keep the tee flowing after a parse error
	br := bufio.NewReader(r)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(nil, br)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			for _, hf := range h.Fields {
				if hf.Name == "authorization" {
					p.mu.Lock()
					p.auth = append(p.auth, hf.Value)
					p.mu.Unlock()
				}
			}
		}
	}
}
