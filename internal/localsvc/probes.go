package localsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// S3Client builds a path-style client of an S3-compatible endpoint with static credentials,
// computing and checking checksums only where the API requires them (as versitygw wants).
func S3Client(endpoint, region, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// S3Ready answers nil when the store accepts ListBuckets with the client's credentials.
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
