//go:build integration

package testenv_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logetl/logetl/internal/testenv"
)

func TestStartS3ServesABucketThatSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)
	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") || srv.Bucket == "" || srv.AccessKey == "" || srv.SecretKey == "" {
		t.Fatalf("server = %+v", srv)
	}
	c := srv.Client()
	key := "probe/hello.txt"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader("hello")}); err != nil {
		t.Fatalf("put: %v", err)
	}

	srv.Stop()
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &srv.Bucket}); err == nil {
		t.Fatal("a stopped server still answers")
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &srv.Bucket, Key: &key})
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	defer out.Body.Close()
	got, _ := io.ReadAll(out.Body)
	if !bytes.Equal(got, []byte("hello")) {
		t.Errorf("object after restart = %q", got)
	}
	cfg := srv.Config()
	if cfg.S3Endpoint != srv.Endpoint || cfg.S3Bucket != srv.Bucket || aws.ToString(&cfg.S3Region) == "" {
		t.Errorf("config = %+v", cfg)
	}
}
