package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// UploadInfo describes a completed upload.
type UploadInfo struct {
	Key   string
	Size  int64
	Parts int // 0 for a single PUT
	ETag  string
}

// abortTimeout bounds the clean-up of a failed multipart upload. It runs on a context detached
// from the caller's, so that a cancelled export still removes its parts.
const abortTimeout = 30 * time.Second

// Upload is our own multipart loop rather than the SDK's upload manager (feature/s3/manager):
// for a body of unknown length, which every export is, the manager uploads parts of one fixed
// size, so it fails at S3's 10,000th part (80 GB at 8 MiB parts) unless every upload, however
// small, is given parts (and their buffers, times the concurrency) sized for the largest weekly
// file. Growing parts keep small uploads small and large ones possible.
//
// Upload streams body to key. Bodies up to one part go up in one PUT; larger ones in a
// multipart upload of parts read one after the other from body and sent concurrently, so memory
// stays at (concurrency+1) parts whatever the size. Parts double in size after every growEvery
// parts (see DefaultPartGrowth), so no object is too large for S3's 10,000 parts. Every part carries the configured checksum,
// which the server verifies. If body returns an error, the context ends or any request fails,
// the multipart upload is aborted: the object at key is then either absent or its previous
// version, never a partial one. Errors from body are returned unchanged; S3 errors are *Error.
func (s *Store) Upload(ctx context.Context, key string, body io.Reader, contentType string, opts ...UploadOption) (UploadInfo, error) {
	var o uploadOptions
	for _, opt := range opts {
		opt(&o)
	}
	first := make([]byte, s.partSize)
	n, err := io.ReadFull(body, first)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return s.putSingle(ctx, key, first[:n], contentType, func(in *s3.PutObjectInput) { in.Tagging = o.tagging })
	case err != nil:
		return UploadInfo{}, err
	}
	return s.multipart(ctx, key, first, body, contentType, o)
}

// UploadOption adds to an Upload.
type UploadOption func(*uploadOptions)

type uploadOptions struct {
	tagging *string
}

// WithTags tags the uploaded object (URL-encoded key=value pairs, S3's x-amz-tagging), so that
// a bucket lifecycle rule can select it (docs/retention.md).
func WithTags(tags url.Values) UploadOption {
	return func(o *uploadOptions) {
		if len(tags) > 0 {
			o.tagging = aws.String(tags.Encode())
		}
	}
}

// Put writes a small object in one request (manifests).
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	_, err := s.putSingle(ctx, key, data, contentType, nil)
	return err
}

// PutIfAbsent writes a small object only if no object is at key (S3's conditional write,
// If-None-Match: *), so two writers cannot both create it. created is false, with no error,
// when another object was there first.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte, contentType string) (created bool, err error) {
	_, err = s.putSingle(ctx, key, data, contentType, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	if errors.Is(err, ErrChanged) {
		return false, nil
	}
	return err == nil, err
}

// PutIfMatch replaces a small object only if its ETag is still etag (If-Match), so concurrent
// read-modify-write cycles never lose an update: the loser gets an error wrapping ErrChanged,
// re-reads and tries again. It returns the new ETag.
func (s *Store) PutIfMatch(ctx context.Context, key string, data []byte, contentType, etag string) (string, error) {
	info, err := s.putSingle(ctx, key, data, contentType, func(in *s3.PutObjectInput) { in.IfMatch = &etag })
	return info.ETag, err
}

// PutETag is Put returning the new object's ETag.
func (s *Store) PutETag(ctx context.Context, key string, data []byte, contentType string) (string, error) {
	info, err := s.putSingle(ctx, key, data, contentType, nil)
	return info.ETag, err
}

func (s *Store) putSingle(ctx context.Context, key string, data []byte, contentType string, condition func(*s3.PutObjectInput)) (UploadInfo, error) {
	in := &s3.PutObjectInput{
		Bucket:            &s.bucket,
		Key:               &key,
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ChecksumAlgorithm: s.checksum,
	}
	if contentType != "" {
		in.ContentType = &contentType
	}
	s.applySSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	if condition != nil {
		condition(in)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return UploadInfo{}, classify("put", key, err)
	}
	return UploadInfo{Key: key, Size: int64(len(data)), ETag: aws.ToString(out.ETag)}, nil
}

func (s *Store) applySSE(sse *types.ServerSideEncryption, kmsKeyID **string) {
	if s.sse == "" {
		return
	}
	*sse = s.sse
	if s.sse == types.ServerSideEncryptionAwsKms {
		*kmsKeyID = aws.String(s.kmsKeyID)
	}
}

// partSizeOf is the size of part num (1-based): the configured size, doubled after every
// growEvery parts, at most S3's largest part.
func (s *Store) partSizeOf(num int32) int64 {
	size := s.partSize
	for doublings := (num - 1) / s.growEvery; doublings > 0 && size < maxPartSize; doublings-- {
		size *= 2
	}
	return min(size, maxPartSize)
}

func (s *Store) multipart(ctx context.Context, key string, first []byte, body io.Reader, contentType string, o uploadOptions) (UploadInfo, error) {
	create := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key, ChecksumAlgorithm: s.checksum, Tagging: o.tagging}
	if contentType != "" {
		create.ContentType = &contentType
	}
	s.applySSE(&create.ServerSideEncryption, &create.SSEKMSKeyId)
	out, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return UploadInfo{}, classify("create multipart upload", key, err)
	}
	uploadID := aws.ToString(out.UploadId)

	uctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []types.CompletedPart
		size  int64
	)
	// free holds the part buffers: concurrency in flight plus the one being filled.
	free := make(chan []byte, s.concurrency+1)
	free <- nil // lazily allocated
	for i := 0; i < s.concurrency; i++ {
		free <- nil
	}
	send := func(num int32, data []byte) {
		defer wg.Done()
		defer func() { free <- data[:cap(data)] }()
		in := &s3.UploadPartInput{
			Bucket:            &s.bucket,
			Key:               &key,
			UploadId:          &uploadID,
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(data),
			ContentLength:     aws.Int64(int64(len(data))),
			ChecksumAlgorithm: s.checksum,
		}
		resp, err := s.client.UploadPart(uctx, in)
		if err != nil {
			cancel(classify("upload part", key, err))
			return
		}
		mu.Lock()
		parts = append(parts, types.CompletedPart{
			PartNumber:     aws.Int32(num),
			ETag:           resp.ETag,
			ChecksumCRC32:  resp.ChecksumCRC32,
			ChecksumSHA256: resp.ChecksumSHA256,
		})
		mu.Unlock()
	}

	var readErr error
	num := int32(1)
	<-free // the first buffer is already filled
	wg.Add(1)
	size += int64(len(first))
	go send(num, first)
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-uctx.Done():
		}
		if uctx.Err() != nil {
			break
		}
		// A buffer of a smaller size is dropped for one of the current size.
		if want := s.partSizeOf(num + 1); int64(cap(buf)) < want {
			buf = make([]byte, want)
		} else {
			buf = buf[:want]
		}
		n, err := io.ReadFull(body, buf)
		if n > 0 {
			num++
			if num > maxParts {
				readErr = fmt.Errorf("upload %s: more than %d parts (the largest %d bytes): larger than S3 allows", key, maxParts, s.partSizeOf(num))
				break
			}
			size += int64(n)
			wg.Add(1)
			go send(num, buf[:n])
		} else {
			free <- buf
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	wg.Wait()

	failure := readErr
	if failure == nil {
		failure = context.Cause(uctx)
		if failure != nil && ctx.Err() != nil {
			failure = classify("upload", key, ctx.Err())
		}
	}
	if failure == nil {
		slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
		resp, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          &s.bucket,
			Key:             &key,
			UploadId:        &uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		if err == nil {
			return UploadInfo{Key: key, Size: size, Parts: len(parts), ETag: aws.ToString(resp.ETag)}, nil
		}
		failure = classify("complete multipart upload", key, err)
	}
	s.abort(ctx, key, uploadID)
	return UploadInfo{}, failure
}

func (s *Store) abort(ctx context.Context, key, uploadID string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	// A part cancelled on our side may still be landing on the server, which can make the
	// abort fail transiently (versitygw answers 500 then): try a few times.
	var err error
	for attempt, wait := 0, 100*time.Millisecond; attempt < 5; attempt, wait = attempt+1, wait*2 {
		_, err = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
		if err == nil || errorCode(err) == "NoSuchUpload" {
			return
		}
		select {
		case <-time.After(wait):
		case <-actx.Done():
			attempt = 5
		}
	}
	// The parts stay invisible (no object is ever completed from them); a bucket lifecycle
	// rule for incomplete multipart uploads reclaims their space.
	slog.WarnContext(ctx, "abort multipart upload failed", "bucket", s.bucket, "key", key, "err", err)
}

// PendingUploads lists the multipart uploads in progress (or left behind) under prefix.
func (s *Store) PendingUploads(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("list multipart uploads", prefix, err)
		}
		for _, u := range page.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
	}
	return keys, nil
}
