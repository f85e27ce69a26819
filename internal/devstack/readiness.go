package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

var probeClient = &http.Client{Timeout: 3 * time.Second}

// HTTPReady answers nil when GET url returns 200, as the API's /readyz does once its
// database is reachable.
func HTTPReady(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// PortOpen answers nil when something accepts TCP connections at addr.
func PortOpen(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// quietLogger keeps the Temporal SDK's connection chatter off the status terminal.
var quietLogger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// DialTemporal connects to the Temporal frontend at address.
func DialTemporal(ctx context.Context, address, namespace string) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: namespace, Logger: quietLogger})
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w", address, err)
	}
	return c, nil
}

// TemporalReady answers nil when the Temporal frontend at address passes its gRPC health check.
func TemporalReady(ctx context.Context, address, namespace string) error {
	if err := PortOpen(ctx, address); err != nil {
		return err
	}
	c, err := DialTemporal(ctx, address, namespace)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal health at %s: %w", address, err)
	}
	return nil
}

// WorkerPolling answers nil when a worker has polled the workflow task queue since `since`,
// which tells a running worker from one that only connected.
func WorkerPolling(ctx context.Context, c client.Client, taskQueue string, since time.Time) error {
	resp, err := c.DescribeTaskQueue(ctx, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		return fmt.Errorf("describe task queue %s: %w", taskQueue, err)
	}
	for _, p := range resp.GetPollers() {
		// Server and supervisor clocks are the same machine's here; allow a little slack.
		if p.GetLastAccessTime().AsTime().After(since.Add(-time.Second)) {
			return nil
		}
	}
	return fmt.Errorf("no worker polls task queue %s yet", taskQueue)
}

// S3Client builds a path-style client for an S3-compatible endpoint with static credentials.
func S3Client(endpoint, region string, creds Credentials) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
	})
}

// S3Ready answers nil when the store accepts ListBuckets with the given credentials.
func S3Ready(ctx context.Context, c *s3.Client) error {
	if _, err := c.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	return nil
}

// EnsureBucket creates bucket unless it exists; it reports whether it created it.
func EnsureBucket(ctx context.Context, c *s3.Client, bucket string) (bool, error) {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		return false, nil
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		var owned interface{ ErrorCode() string }
		if errors.As(err, &owned) && (owned.ErrorCode() == "BucketAlreadyOwnedByYou" || owned.ErrorCode() == "BucketAlreadyExists") {
			return false, nil
		}
		return false, fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return true, nil
}
