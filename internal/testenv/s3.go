package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logetl/logetl/internal/config"
)

// S3Server is a real versitygw process serving a posix folder, with one bucket.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:<port>
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	Dir       string // the posix root; the bucket is the folder Dir/Bucket

	addr    string
	sidecar string // metadata folder when the file system lacks xattrs
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives the process's exit
}

// versitygwPath finds the versitygw binary in $(go env GOPATH)/bin (or PATH).
func versitygwPath() (string, error) {
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	if gopath != "" {
		p := filepath.Join(gopath, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("versitygw binary not found in $(go env GOPATH)/bin or PATH: run scripts/services.sh tools")
}

// StartS3 starts a versitygw on a free loopback port serving a fresh temporary folder, creates
// a bucket in it and stops it when the test ends. It fails the test if versitygw is missing.
func StartS3(ctx context.Context, t testing.TB) *S3Server {
	t.Helper()
	s, err := LaunchS3(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// LaunchS3 is StartS3 for callers without a testing.TB (TestMain, commands): it serves dir and
// the caller must Stop it.
func LaunchS3(ctx context.Context, dir string) (*S3Server, error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	s := &S3Server{
		AccessKey: "logetltest",
		SecretKey: hex.EncodeToString(rnd[:]),
		Bucket:    "logetl-test",
		Region:    "us-east-1",
		Dir:       filepath.Join(dir, "root"),
		logPath:   filepath.Join(dir, "versitygw.log"),
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	// The posix backend keeps object metadata (content type, ETag, checksums) in extended
	// attributes. Where the file system has none (some tmpfs and overlay setups), --sidecar
	// keeps it in a parallel folder instead; on ext4/xfs the xattrs are used.
	if !supportsXattrs(s.Dir) {
		s.sidecar = filepath.Join(dir, "meta")
		if err := os.MkdirAll(s.sidecar, 0o755); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.Endpoint = "http://" + s.addr
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	client := s.Client()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	return s, nil
}

func supportsXattrs(dir string) bool {
	p := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return false
	}
	defer os.Remove(p)
	return syscall.Setxattr(p, "user.logetl.probe", []byte("1"), 0) == nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Config is the logetl S3 configuration pointing at this server (credentials go separately,
// through s3store.WithStaticCredentials or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
func (s *S3Server) Config() config.S3 {
	return config.S3{
		S3Endpoint:    s.Endpoint,
		S3Bucket:      s.Bucket,
		S3Prefix:      "logs",
		S3Region:      s.Region,
		S3PartSize:    5 << 20,
		S3Concurrency: 2,
		S3Checksum:    "CRC32",
	}
}

// Client is a plain SDK client of the server, for tests that inspect the bucket directly.
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Start restarts a stopped server on the same port and folder (for fault tests).
func (s *S3Server) Start(ctx context.Context) error { return s.start(ctx) }

func (s *S3Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	bin, err := versitygwPath()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region, "--port", s.addr, "--quiet", "posix"}
	if s.sidecar != "" {
		args = append(args, "--sidecar", s.sidecar)
	}
	args = append(args, s.Dir)
	// Not CommandContext: the server must outlive a short setup context.
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("run %s: %w", bin, err)
	}
	logf.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd = cmd

	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			s.cmd = nil
			log, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("versitygw exited at start (%v): %s", err, lastBytes(string(log), 2000))
		default:
		}
		if answers(ctx, s.Endpoint) {
			// Keep reaping in the background; Stop waits through the same channel.
			s.exited = exited
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = cmd.Process.Kill()
			exitErr := <-exited
			_ = exitErr // the status of a killed process says nothing
			s.cmd = nil
			return fmt.Errorf("versitygw did not answer on %s within 20s", s.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func answers(ctx context.Context, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// Stop stops the server (SIGTERM, then SIGKILL after 5s). Its folder stays, so Start resumes
// with the same objects.
func (s *S3Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		_ = err // a SIGTERM'd server exits non-zero
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		exitErr := <-s.exited
		_ = exitErr
	}
	s.cmd = nil
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
