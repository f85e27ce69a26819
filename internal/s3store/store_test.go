//go:build integration

package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/testenv"
)

func newStore(t testing.TB, srv *testenv.S3Server, opts ...s3store.Option) *s3store.Store {
	t.Helper()
	st, err := s3store.New(context.Background(), srv.Config(), append([]s3store.Option{s3store.WithStaticCredentials(srv.AccessKey, srv.SecretKey)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// failingReader yields data and then fails, like an export whose MySQL read breaks mid-stream.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func assertNoObjectNorUpload(t *testing.T, st *s3store.Store, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Stat(ctx, key); !errors.Is(err, s3store.ErrNotFound) {
		t.Errorf("object %s after a failed upload: stat err = %v, want ErrNotFound", key, err)
	}
	pending, err := st.PendingUploads(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 0 {
		t.Errorf("multipart uploads left behind: %v", pending)
	}
}

func TestUploadRoundTripsSingleAndMultipartWithEachChecksum(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)
	for _, alg := range []string{"CRC32", "SHA256"} {
		st := newStore(t, srv, s3store.WithChecksum(alg), s3store.WithConcurrency(3))
		for _, size := range []int{0, 1000, s3store.MinPartSize, 2*s3store.MinPartSize + 12345} {
			t.Run(fmt.Sprintf("%s/%d bytes", alg, size), func(t *testing.T) {
				data := randomBytes(size, uint64(size))
				key := fmt.Sprintf("rt/%s/%d.bin", alg, size)
				// A plain io.Reader: the store must not need Seek or a known length.
				info, err := st.Upload(ctx, key, io.MultiReader(bytes.NewReader(data)), "application/octet-stream")
				if err != nil {
					t.Fatal(err)
				}
				if info.Size != int64(size) {
					t.Errorf("size = %d, want %d", info.Size, size)
				}
				wantParts := 0
				if size >= s3store.MinPartSize { // a full first part starts a multipart upload
					wantParts = (size + s3store.MinPartSize - 1) / s3store.MinPartSize
				}
				if info.Parts != wantParts {
					t.Errorf("parts = %d, want %d", info.Parts, wantParts)
				}
				got, err := st.Get(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
				}
				if size == 0 {
					return
				}
				obj, err := st.Open(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if obj.Size() != int64(size) {
					t.Errorf("open size = %d", obj.Size())
				}
				for _, off := range []int{0, size / 3, size - 1, max(0, size-700)} {
					buf := make([]byte, min(5000, size-off))
					if _, err := obj.ReadAt(buf, int64(off)); err != nil && err != io.EOF {
						t.Fatalf("ReadAt(%d): %v", off, err)
					}
					if !bytes.Equal(buf, data[off:off+len(buf)]) {
						t.Errorf("ReadAt(%d) differs", off)
					}
				}
				if n, err := obj.ReadAt(make([]byte, 10), int64(size)); n != 0 || err != io.EOF {
					t.Errorf("ReadAt past the end = %d, %v; want 0, EOF", n, err)
				}
			})
		}
	}
}

func TestUploadGrowsItsPartsAsTheStreamGoesOn(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)
	// Doubling after every 2 parts: 5, 5, 10, 10 MiB, then the 3 MiB rest.
	st := newStore(t, srv, s3store.WithPartSize(s3store.MinPartSize), s3store.WithPartGrowth(2), s3store.WithConcurrency(2))
	const mib = 1 << 20
	wantSizes := []int64{5 * mib, 5 * mib, 10 * mib, 10 * mib, 3 * mib}
	var size int64
	for _, n := range wantSizes {
		size += n
	}
	data := randomBytes(int(size), 7)
	const key = "grow/object.bin"
	info, err := st.Upload(ctx, key, io.MultiReader(bytes.NewReader(data)), "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Parts != len(wantSizes) || info.Size != size {
		t.Fatalf("uploaded %d bytes in %d parts, want %d bytes in %d", info.Size, info.Parts, size, len(wantSizes))
	}
	for i, want := range wantSizes {
		head, err := st.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(key), PartNumber: aws.Int32(int32(i + 1))})
		if err != nil {
			t.Fatalf("head part %d: %v", i+1, err)
		}
		if got := aws.ToInt64(head.ContentLength); got != want {
			t.Errorf("part %d is %d bytes, want %d", i+1, got, want)
		}
	}
	got, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded object differs from the uploaded stream")
	}
}

func TestFailedStreamsLeaveNoObjectAndNoParts(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)
	st := newStore(t, srv)
	boom := errors.New("mysql went away")
	tests := []struct {
		name string
		body func() io.Reader
	}{
		{"error within the first part", func() io.Reader {
			return &failingReader{r: bytes.NewReader(randomBytes(1000, 1)), err: boom}
		}},
		{"error after two parts", func() io.Reader {
			return &failingReader{r: bytes.NewReader(randomBytes(2*s3store.MinPartSize+10, 2)), err: boom}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("fail/%d.bin", i)
			_, err := st.Upload(ctx, key, tt.body(), "")
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want the body's error", err)
			}
			assertNoObjectNorUpload(t, st, key)
		})
	}

	t.Run("a failed rewrite keeps the previous version whole", func(t *testing.T) {
		key := "fail/rewrite.bin"
		old := randomBytes(3*s3store.MinPartSize, 3)
		if _, err := st.Upload(ctx, key, bytes.NewReader(old), ""); err != nil {
			t.Fatal(err)
		}
		_, err := st.Upload(ctx, key, &failingReader{r: bytes.NewReader(randomBytes(2*s3store.MinPartSize+1, 4)), err: boom}, "")
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		got, err := st.Get(ctx, key)
		if err != nil || !bytes.Equal(got, old) {
			t.Fatalf("previous version damaged (err %v)", err)
		}
	})

	t.Run("cancelled context aborts the upload", func(t *testing.T) {
		key := "fail/cancel.bin"
		cctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write(randomBytes(s3store.MinPartSize+100, 5))
			cancel()
			// The consumer stops reading; unblock the writer the way the export does.
			time.Sleep(100 * time.Millisecond)
			pw.CloseWithError(context.Canceled)
		}()
		_, err := st.Upload(cctx, key, pr, "")
		if err == nil {
			t.Fatal("upload succeeded after cancel")
		}
		if s3store.IsPermanent(err) {
			t.Errorf("cancel classified permanent: %v", err)
		}
		assertNoObjectNorUpload(t, st, key)
	})
}

func TestErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)

	t.Run("missing bucket is permanent", func(t *testing.T) {
		cfg := srv.Config()
		cfg.S3Bucket = "no-such-bucket"
		st, err := s3store.New(ctx, cfg, s3store.WithStaticCredentials(srv.AccessKey, srv.SecretKey))
		if err != nil {
			t.Fatal(err)
		}
		err = st.CheckBucket(ctx)
		if !s3store.IsPermanent(err) || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("CheckBucket err = %v, want permanent 'does not exist'", err)
		}
		err = st.Put(ctx, "k", []byte("x"), "")
		if !s3store.IsPermanent(err) {
			t.Errorf("Put err = %v, want permanent", err)
		}
	})

	t.Run("refused credentials say so, not a missing bucket or object", func(t *testing.T) {
		for _, tc := range []struct {
			name, key, secret, want string
		}{
			{"an unknown access key", "unknown-key", "whatever", "access key is not known"},
			{"a wrong secret", srv.AccessKey, "wrong-secret", "secret key does not match"},
		} {
			st, err := s3store.New(ctx, srv.Config(), s3store.WithStaticCredentials(tc.key, tc.secret))
			if err != nil {
				t.Fatal(err)
			}
			for op, err := range map[string]error{
				"check bucket": st.CheckBucket(ctx),
				"put":          st.Put(ctx, "k", []byte("x"), ""),
				"get":          func() error { _, err := st.Get(ctx, "k"); return err }(),
			} {
				if !errors.Is(err, s3store.ErrCredentials) || !s3store.IsPermanent(err) || errors.Is(err, s3store.ErrNotFound) ||
					strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %s err = %v, want a permanent credential error saying %q", tc.name, op, err, tc.want)
				}
			}
		}
	})

	t.Run("missing key is not found", func(t *testing.T) {
		st := newStore(t, srv)
		if _, err := st.Get(ctx, "nope"); !errors.Is(err, s3store.ErrNotFound) {
			t.Errorf("Get err = %v, want ErrNotFound", err)
		}
		if err := st.Delete(ctx, "nope"); err != nil {
			t.Errorf("Delete of a missing key: %v", err)
		}
	})

	t.Run("bad configuration is permanent", func(t *testing.T) {
		for name, mutate := range map[string]func(*config.S3){
			"tiny parts":     func(c *config.S3) { c.S3PartSize = 1 << 20 },
			"kms without id": func(c *config.S3) { c.S3SSE = "aws:kms" },
			"no bucket":      func(c *config.S3) { c.S3Bucket = "" },
			"crc64":          func(c *config.S3) { c.S3Checksum = "CRC64NVME" },
		} {
			cfg := srv.Config()
			mutate(&cfg)
			_, err := s3store.New(ctx, cfg)
			if !errors.Is(err, s3store.ErrConfig) || !s3store.IsPermanent(err) {
				t.Errorf("%s: err = %v, want permanent ErrConfig", name, err)
			}
		}
	})

	t.Run("unreachable server is retryable and leaves nothing", func(t *testing.T) {
		st := newStore(t, srv, s3store.WithMaxAttempts(1))
		srv.Stop()
		defer func() {
			if err := srv.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}()
		_, err := st.Upload(ctx, "down/x.bin", bytes.NewReader(randomBytes(2*s3store.MinPartSize, 6)), "")
		var se *s3store.Error
		if err == nil || s3store.IsPermanent(err) || !errors.As(err, &se) {
			t.Fatalf("err = %v, want a retryable *s3store.Error", err)
		}
		if err := st.CheckBucket(ctx); err == nil || s3store.IsPermanent(err) {
			t.Errorf("CheckBucket err = %v, want retryable", err)
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		assertNoObjectNorUpload(t, st, "down/x.bin")
	})
}

// recordingProxy forwards to the real server and records the headers of every request, to
// check what the store asks S3 for (checksums, encryption) that versitygw accepts silently.
type recordingProxy struct {
	mu   sync.Mutex
	reqs []http.Header
	urls []string
}

func (p *recordingProxy) start(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		h := r.Header.Clone()
		if r.Trailer != nil {
			h.Set("X-Declared-Trailer", r.Header.Get("X-Amz-Trailer"))
		}
		p.reqs = append(p.reqs, h)
		p.urls = append(p.urls, r.Method+" "+r.URL.RequestURI())
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRequestsCarryChecksumsAndEncryption(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)
	for _, tt := range []struct {
		checksum, header string
		sse, kmsKey      string
	}{
		{"CRC32", "X-Amz-Checksum-Crc32", "AES256", ""},
		{"SHA256", "X-Amz-Checksum-Sha256", "aws:kms", "alias/logetl"},
	} {
		t.Run(tt.checksum+" "+tt.sse, func(t *testing.T) {
			var proxy recordingProxy
			cfg := srv.Config()
			cfg.S3Endpoint = proxy.start(t, srv.Endpoint)
			cfg.S3Checksum, cfg.S3SSE, cfg.S3SSEKMSKeyID = tt.checksum, tt.sse, tt.kmsKey
			st, err := s3store.New(ctx, cfg, s3store.WithStaticCredentials(srv.AccessKey, srv.SecretKey))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Put(ctx, "h/small", []byte("x"), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Upload(ctx, "h/big", bytes.NewReader(randomBytes(2*s3store.MinPartSize+1, 1)), ""); err != nil {
				t.Fatal(err)
			}
			var puts, parts, creates int
			for i, h := range proxy.reqs {
				u := proxy.urls[i]
				for k := range h {
					if strings.Contains(strings.ToLower(k+h.Get(k)), "crc64") {
						t.Errorf("%s asks for CRC64NVME (%s: %s)", u, k, h.Get(k))
					}
				}
				isPart := strings.Contains(u, "partNumber=")
				isPut := strings.HasPrefix(u, "PUT ") && !isPart && !strings.Contains(u, "uploadId=")
				isCreate := strings.HasPrefix(u, "POST ") && strings.Contains(u, "uploads")
				if isPart || isPut {
					if h.Get(tt.header) == "" && !strings.EqualFold(h.Get("X-Declared-Trailer"), tt.header) {
						t.Errorf("%s carries no %s (headers %v)", u, tt.header, h)
					}
				}
				if isPut || isCreate {
					if h.Get("X-Amz-Server-Side-Encryption") != tt.sse {
						t.Errorf("%s: server-side encryption %q, want %q", u, h.Get("X-Amz-Server-Side-Encryption"), tt.sse)
					}
					if got := h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != tt.kmsKey {
						t.Errorf("%s: kms key %q, want %q", u, got, tt.kmsKey)
					}
				}
				switch {
				case isPart:
					parts++
				case isPut:
					puts++
				case isCreate:
					creates++
				}
			}
			if puts != 1 || parts != 3 || creates != 1 {
				t.Errorf("saw %d puts, %d parts, %d creates; want 1, 3, 1 (%v)", puts, parts, creates, proxy.urls)
			}
		})
	}
}

func TestListAndDelete(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)
	st := newStore(t, srv)
	for _, k := range []string{"a/1", "a/2", "b/1"} {
		if err := st.Put(ctx, k, []byte(k), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := st.List(ctx, "a/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Key != "a/1" || objs[1].Key != "a/2" || objs[0].Size != 3 {
		t.Fatalf("list = %+v", objs)
	}
	if err := st.Delete(ctx, "a/1"); err != nil {
		t.Fatal(err)
	}
	objs, _ = st.List(ctx, "a/")
	if len(objs) != 1 || objs[0].Key != "a/2" {
		t.Errorf("after delete = %+v", objs)
	}
}

// BenchmarkUpload measures the sink's streaming multipart throughput to a local versitygw.
func BenchmarkUpload(b *testing.B) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, b)
	st := newStore(b, srv)
	data := randomBytes(64<<20, 9)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.Upload(ctx, "bench/x.bin", bytes.NewReader(data), ""); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConditionalWritesLetOneCreatorWinAndNoUpdateBeLost(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, testenv.StartS3(ctx, t))
	key := "cond/descriptor.json"

	// Two creators: exactly one creates, the other learns it lost and reads the winner's.
	var wg sync.WaitGroup
	created := make([]bool, 8)
	for i := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.PutIfAbsent(ctx, key, []byte(fmt.Sprintf("writer %d", i)), "application/json")
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
			created[i] = ok
		}()
	}
	wg.Wait()
	winners := 0
	for _, c := range created {
		if c {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d writers created the object, want exactly 1", winners)
	}

	// Read-modify-write with If-Match: a stale ETag is refused with ErrChanged.
	data, etag, err := st.GetETag(ctx, key)
	if err != nil || etag == "" {
		t.Fatalf("GetETag = %q %q %v", data, etag, err)
	}
	newTag, err := st.PutIfMatch(ctx, key, []byte("v2"), "application/json", etag)
	if err != nil || newTag == "" || newTag == etag {
		t.Fatalf("PutIfMatch with the current ETag: %q %v", newTag, err)
	}
	if _, err := st.PutIfMatch(ctx, key, []byte("v3"), "application/json", etag); !errors.Is(err, s3store.ErrChanged) {
		t.Fatalf("PutIfMatch with a stale ETag = %v, want ErrChanged", err)
	}
	if got, _ := st.Get(ctx, key); string(got) != "v2" {
		t.Fatalf("object = %q, want v2", got)
	}

	// A reader bound to a version fails once the object is replaced.
	obj, err := st.OpenVersion(ctx, key, newTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, key, []byte("v4, longer"), "application/json"); err != nil {
		t.Fatal(err)
	}
	if _, err := obj.ReadAt(make([]byte, 2), 0); !errors.Is(err, s3store.ErrChanged) {
		t.Fatalf("read of a replaced version = %v, want ErrChanged", err)
	}
	if _, err := st.OpenVersion(ctx, key, newTag); !errors.Is(err, s3store.ErrChanged) {
		t.Fatalf("open of a replaced version = %v, want ErrChanged", err)
	}

	// A ranged listing returns only its range, ETags included.
	for _, k := range []string{"r/a", "r/b", "r/c", "r/d"} {
		if err := st.Put(ctx, k, []byte(k), ""); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := st.ListRange(ctx, "r/", "r/a", "r/d")
	if err != nil || len(objs) != 2 || objs[0].Key != "r/b" || objs[1].Key != "r/c" || objs[0].ETag == "" {
		t.Fatalf("ListRange = %+v %v", objs, err)
	}
}

func TestListPrefixesGivesOnePartitionPerFolder(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, testenv.StartS3(ctx, t))
	for _, k := range []string{"t/daily/dt=2026-11-23/a", "t/daily/dt=2026-11-24/a", "t/daily/dt=2026-11-24/b", "t/daily/dt=2026-11-25/a", "t/daily/dt=2026-11-26/a"} {
		if err := st.Put(ctx, k, []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.ListPrefixes(ctx, "t/daily/", "t/daily/dt=2026-11-24", "t/daily/dt=2026-11-26/")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[t/daily/dt=2026-11-24/ t/daily/dt=2026-11-25/]" {
		t.Fatalf("prefixes %v", got)
	}
}
