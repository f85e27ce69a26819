// Package s3store is the pipeline's S3 sink and source: streaming multipart uploads that never
// leave a partial object behind, small object puts and gets, ranged reads, listing and deletes,
// with every error classified as retryable or permanent.
//
// It works against AWS S3 and S3-compatible stores (versitygw, MinIO): path-style addressing,
// an optional endpoint, and checksums only where the request requires them plus the CRC32 or
// SHA256 the uploader asks for on every part. CRC64NVME (the SDK's newer default) is never used,
// as several S3-compatible stores reject it.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logetl/logetl/internal/config"
)

// MinPartSize is S3's smallest allowed part (except the last one).
const MinPartSize = 5 << 20

// S3's other multipart limits: the largest part and the most parts of one upload.
const (
	maxPartSize = 5 << 30
	maxParts    = 10000
)

// DefaultPartGrowth is how many parts of one size an upload sends before doubling the size.
// Uploads are streams of unknown length, so a fixed part size would cap an object at 10,000
// parts (80 GB at 8 MiB; a busy site's weekly file could reach it) while a size chosen for the
// largest object would cost every small export its memory. Doubling every 1,000 parts keeps
// small uploads at the configured size and reaches S3's 5 TB object limit within the 10,000.
const DefaultPartGrowth = 1000

// Store reads and writes objects of one bucket.
type Store struct {
	client      *s3.Client
	bucket      string
	sse         types.ServerSideEncryption
	kmsKeyID    string
	partSize    int64
	growEvery   int32
	concurrency int
	checksum    types.ChecksumAlgorithm
}

type options struct {
	accessKey, secretKey string
	partSize             int64
	growEvery            int32
	concurrency          int
	maxAttempts          int
	checksum             string
}

// Option adjusts a Store.
type Option func(*options)

// WithStaticCredentials uses a fixed access key instead of the SDK's default chain (env, shared
// config, instance role). Tests use it against their own versitygw.
func WithStaticCredentials(accessKey, secretKey string) Option {
	return func(o *options) { o.accessKey, o.secretKey = accessKey, secretKey }
}

// WithPartSize overrides cfg.S3PartSize.
func WithPartSize(n int64) Option { return func(o *options) { o.partSize = n } }

// WithPartGrowth makes the part size double after every n parts of an upload (default
// DefaultPartGrowth); tests use a small n to see the growth without gigabytes of data.
func WithPartGrowth(n int32) Option { return func(o *options) { o.growEvery = n } }

// WithConcurrency overrides cfg.S3Concurrency.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithMaxAttempts sets how often the SDK tries one request before the error reaches the caller
// (default 3). Callers with their own retries (Temporal activities) may lower it.
func WithMaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// WithChecksum overrides cfg.S3Checksum ("CRC32" or "SHA256").
func WithChecksum(alg string) Option { return func(o *options) { o.checksum = alg } }

// New builds a Store from the configuration. It does not contact S3; CheckBucket does.
func New(ctx context.Context, cfg config.S3, opts ...Option) (*Store, error) {
	o := options{partSize: cfg.S3PartSize, concurrency: cfg.S3Concurrency, checksum: cfg.S3Checksum, maxAttempts: 3}
	for _, opt := range opts {
		opt(&o)
	}
	if o.partSize == 0 {
		o.partSize = 8 << 20
	}
	if o.growEvery == 0 {
		o.growEvery = DefaultPartGrowth
	}
	if o.concurrency == 0 {
		o.concurrency = 2
	}
	if o.checksum == "" {
		o.checksum = "CRC32"
	}
	if cfg.S3Bucket == "" {
		return nil, configError("no bucket configured")
	}
	if o.partSize < MinPartSize {
		return nil, configError(fmt.Sprintf("part size %d is below S3's minimum of %d bytes", o.partSize, MinPartSize))
	}
	if o.growEvery < 1 {
		return nil, configError(fmt.Sprintf("part growth %d must be at least 1", o.growEvery))
	}
	if o.concurrency < 1 {
		return nil, configError(fmt.Sprintf("upload concurrency %d must be at least 1", o.concurrency))
	}
	var checksum types.ChecksumAlgorithm
	switch o.checksum {
	case "CRC32":
		checksum = types.ChecksumAlgorithmCrc32
	case "SHA256":
		checksum = types.ChecksumAlgorithmSha256
	default:
		return nil, configError(fmt.Sprintf("checksum %q: want CRC32 or SHA256", o.checksum))
	}
	var sse types.ServerSideEncryption
	switch cfg.S3SSE {
	case "":
	case "AES256":
		sse = types.ServerSideEncryptionAes256
	case "aws:kms":
		sse = types.ServerSideEncryptionAwsKms
		if cfg.S3SSEKMSKeyID == "" {
			return nil, configError("--s3-sse=aws:kms needs --s3-sse-kms-key-id")
		}
	default:
		return nil, configError(fmt.Sprintf("server-side encryption %q: want '', AES256 or aws:kms", cfg.S3SSE))
	}

	// A stalled server must not hang an export forever: headers must come within a minute.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.ResponseHeaderTimeout = time.Minute
	})
	loadOpts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.S3Region),
		awsconfig.WithHTTPClient(httpClient),
		awsconfig.WithRetryMaxAttempts(o.maxAttempts),
	}
	if o.accessKey != "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.accessKey, o.secretKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, configError(fmt.Sprintf("load AWS configuration: %v", err))
	}
	endpoint := cfg.AWSEndpoint()
	client := s3.NewFromConfig(awsCfg, func(so *s3.Options) {
		so.UsePathStyle = true
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{
		client:      client,
		bucket:      cfg.S3Bucket,
		sse:         sse,
		kmsKeyID:    cfg.S3SSEKMSKeyID,
		partSize:    o.partSize,
		growEvery:   o.growEvery,
		concurrency: o.concurrency,
		checksum:    checksum,
	}, nil
}

// Bucket is the bucket the store works in.
func (s *Store) Bucket() string { return s.bucket }

// Client exposes the underlying SDK client, for tools that need an operation Store lacks.
func (s *Store) Client() *s3.Client { return s.client }

// CheckBucket verifies that the bucket exists and is reachable with these credentials. A
// missing bucket, refused credentials or denied access is a permanent error saying which:
// HEAD answers carry no error code, so a refused HEAD is asked again as a one-key listing,
// whose answer names the cause (an unknown access key must not read as a missing bucket).
// logetl never creates the bucket itself outside `logetl dev`.
func (s *Store) CheckBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	if st := status(err); st == http.StatusNotFound || st == http.StatusForbidden || st == http.StatusBadRequest {
		_, lerr := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, MaxKeys: aws.Int32(1)})
		if lerr != nil {
			err = lerr
		}
	}
	e := classify("check bucket", "", err)
	if errors.Is(e, ErrCredentials) {
		return e
	}
	if errorCode(err) == "NoSuchBucket" || status(err) == http.StatusNotFound {
		e.Permanent = true
		e.Err = fmt.Errorf("bucket %q does not exist (create it, or run `logetl dev` which does): %w", s.bucket, err)
	}
	return e
}

// Probe writes and deletes a small object under prefix: what preflight checks, since a bucket
// that answers HEAD may still refuse writes.
func (s *Store) Probe(ctx context.Context, prefix string) error {
	key := strings.TrimSuffix(prefix, "/") + "/_logetl/probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := s.Put(ctx, key, []byte("logetl preflight probe\n"), "text/plain"); err != nil {
		return err
	}
	return s.Delete(ctx, key)
}

// CreateBucket creates the bucket unless it exists already.
func (s *Store) CreateBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	if err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		if errors.As(err, &owned) || errorCode(err) == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return classify("create bucket", s.bucket, err)
	}
	return nil
}
