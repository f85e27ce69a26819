package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/localsvc"
)

// S3Server is a real versitygw process serving a posix folder, with one bucket.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:<port>
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	Dir       string // the posix root; the bucket is the folder Dir/Bucket

	gw      localsvc.VersityGW
	logPath string

	mu    sync.Mutex
	child *localsvc.Child
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
	addr, err := localsvc.FreeAddr()
	if err != nil {
		return nil, err
	}
	s.Endpoint = "http://" + addr
	s.gw = localsvc.VersityGW{Addr: addr, Region: s.Region, Root: s.Dir, AccessKey: s.AccessKey, SecretKey: s.SecretKey}
	if !localsvc.SupportsXattrs(s.Dir) {
		s.gw.Sidecar = filepath.Join(dir, "meta")
		if err := os.MkdirAll(s.gw.Sidecar, 0o755); err != nil {
			return nil, err
		}
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	return s, nil
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
	return localsvc.S3Client(s.Endpoint, s.Region, s.AccessKey, s.SecretKey)
}

// Start (re)starts a stopped server on the same port and folder (for fault tests) and waits
// until it answers, at most 20s.
func (s *S3Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.child != nil {
		return nil
	}
	spec, err := s.gw.Spec(nil)
	if err != nil {
		return err
	}
	logf, err := localsvc.AppendLog(s.logPath)
	if err != nil {
		return err
	}
	spec.Output = logf
	child, err := localsvc.StartChild(spec)
	logf.Close() // the child has its own descriptor
	if err != nil {
		return err
	}
	cl := s.Client()
	err = localsvc.WaitReady(ctx, 20*time.Second, 50*time.Millisecond, child.Done(), func(ctx context.Context) error {
		return localsvc.S3Ready(ctx, cl)
	})
	if err != nil {
		child.Stop(time.Second)
		if errors.Is(err, localsvc.ErrExited) {
			return fmt.Errorf("versitygw exited at start (%s): %s", child.Describe(), localsvc.Tail(s.logPath, 2000))
		}
		return fmt.Errorf("versitygw on %s: %w (log %s)", s.gw.Addr, err, s.logPath)
	}
	s.child = child
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 5s). Its folder stays, so Start resumes
// with the same objects.
func (s *S3Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.child == nil {
		return
	}
	s.child.Stop(5 * time.Second)
	s.child = nil
}
