package s3store

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Get reads a whole (small) object into memory, e.g. a manifest.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	data, _, err := s.GetETag(ctx, key)
	return data, err
}

// GetETag reads a whole (small) object and its ETag, for a later PutIfMatch.
func (s *Store) GetETag(ctx context.Context, key string) ([]byte, string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, "", classify("get", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", classify("get", key, err)
	}
	return data, aws.ToString(out.ETag), nil
}

// Download streams an object into w and returns the bytes copied.
func (s *Store) Download(ctx context.Context, key string, w io.Writer) (int64, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return 0, classify("get", key, err)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, out.Body)
	if err != nil {
		return n, classify("get", key, err)
	}
	return n, nil
}

// ObjectInfo is one listed object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
}

// List returns every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	return s.ListRange(ctx, prefix, "", "")
}

// ListRange returns the objects whose key starts with prefix and lies in (after, before), in
// key order; empty bounds are open. S3 starts the listing after `after` and logetl stops at
// `before`, so a range of a large prefix costs only the pages it holds.
func (s *Store) ListRange(ctx context.Context, prefix, after, before string) ([]ObjectInfo, error) {
	var objs []ObjectInfo
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix}
	if after != "" {
		in.StartAfter = &after
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("list", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if before != "" && key >= before {
				return objs, nil
			}
			objs = append(objs, ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), LastModified: aws.ToTime(o.LastModified)})
		}
	}
	return objs, nil
}

// Delete removes an object; deleting a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return classify("delete", key, err)
	}
	return nil
}

// Stat returns the size of an object; a missing one gives an error wrapping ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return ObjectInfo{}, classify("head", key, err)
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), LastModified: aws.ToTime(out.LastModified)}, nil
}

// readBlock is the granularity of Object's ranged GETs: Parquet readers issue many small reads
// (footer, page headers), which a block cache turns into a few large requests.
const readBlock = 1 << 20

// cachedBlocks bounds an Object's memory.
const cachedBlocks = 8

// Object reads an S3 object at random offsets (io.ReaderAt) with ranged GETs, for Parquet
// readers. It is bound to the context it was opened with, since ReadAt takes none.
type Object struct {
	s    *Store
	ctx  context.Context
	key  string
	size int64
	etag string // every read is conditional on it, when set

	mu     sync.Mutex
	blocks map[int64][]byte
	order  []int64 // least recently used first
}

// Open returns a reader of the object at key.
func (s *Store) Open(ctx context.Context, key string) (*Object, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &Object{s: s, ctx: ctx, key: key, size: info.Size, etag: info.ETag, blocks: make(map[int64][]byte)}, nil
}

// OpenVersion returns a reader of the object at key as long as its ETag is etag: if the object
// is missing, or replaced before or while it is read, the open or a read fails with an error
// wrapping ErrChanged (or ErrNotFound), never mixing two versions' bytes.
func (s *Store) OpenVersion(ctx context.Context, key, etag string) (*Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key, IfMatch: &etag})
	if err != nil {
		return nil, classify("head", key, err)
	}
	return &Object{s: s, ctx: ctx, key: key, size: aws.ToInt64(out.ContentLength), etag: etag, blocks: make(map[int64][]byte)}, nil
}

// ETag is the version of the object the reader reads.
func (o *Object) ETag() string { return o.etag }

// Size is the object's length in bytes.
func (o *Object) Size() int64 { return o.size }

// ReadAt implements io.ReaderAt.
func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", o.key)
	}
	n := 0
	for n < len(p) {
		if off >= o.size {
			return n, io.EOF
		}
		idx := off / readBlock
		b, err := o.block(idx)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], b[off-idx*readBlock:])
		n += c
		off += int64(c)
	}
	return n, nil
}

func (o *Object) block(idx int64) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.blocks[idx]; ok {
		for i, v := range o.order {
			if v == idx {
				o.order = append(append(o.order[:i:i], o.order[i+1:]...), idx)
				break
			}
		}
		return b, nil
	}
	start := idx * readBlock
	end := min(start+readBlock, o.size) - 1
	rng := fmt.Sprintf("bytes=%d-%d", start, end)
	in := &s3.GetObjectInput{Bucket: &o.s.bucket, Key: &o.key, Range: &rng}
	if o.etag != "" {
		in.IfMatch = &o.etag
	}
	out, err := o.s.client.GetObject(o.ctx, in)
	if err != nil {
		return nil, classify("get range", o.key, err)
	}
	defer out.Body.Close()
	b := make([]byte, end-start+1)
	if _, err := io.ReadFull(out.Body, b); err != nil {
		return nil, classify("get range", o.key, err)
	}
	if len(o.order) >= cachedBlocks {
		delete(o.blocks, o.order[0])
		o.order = o.order[1:]
	}
	o.blocks[idx] = b
	o.order = append(o.order, idx)
	return b, nil
}

// ListPrefixes returns the "folders" directly below prefix (keys up to the next "/", S3's
// CommonPrefixes) that lie in (after, before): one entry per partition, however many objects
// each holds.
func (s *Store) ListPrefixes(ctx context.Context, prefix, after, before string) ([]string, error) {
	var out []string
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix, Delimiter: aws.String("/")}
	if after != "" {
		in.StartAfter = &after
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("list", prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			k := aws.ToString(cp.Prefix)
			if before != "" && k >= before {
				return out, nil
			}
			out = append(out, k)
		}
	}
	return out, nil
}
